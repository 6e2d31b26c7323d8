import type { Config } from './load';

/** The part of a loaded proxymgr.yml that says which named registries exist. */
export type RegistryNames = Pick<Config, 'file' | 'zk' | 'etcdDir'>;

/**
 * The registry names a service's watcher gives that this proxymgr.yml does not define.
 * Written to the source anyway, such a blob would be a source error on every sidecar
 * reading it, so `service put` and `PUT /api/services/NAME` refuse it first.
 */
export function undefinedRegistries(names: RegistryNames, watcher: { type: string; options: Record<string, unknown> }): string[] {
  const { ensemble, cluster } = watcher.options;
  if (watcher.type === 'zookeeper' && typeof ensemble === 'string' && !names.zk.get(ensemble)) {
    return [`ensemble: ${JSON.stringify(ensemble)} is not defined in ${names.file} (zookeeper.ensembles)`];
  }
  if (watcher.type === 'etcd' && typeof cluster === 'string' && !names.etcdDir.get(cluster)) {
    return [`cluster: ${JSON.stringify(cluster)} is not defined in ${names.file} (etcd.clusters)`];
  }
  return [];
}
