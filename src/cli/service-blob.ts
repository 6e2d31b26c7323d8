import { readFileSync } from 'node:fs';
import type { Config } from '../config/load';
import { parseServiceDefinition } from '../model/service';
import { WATCHER_SCHEMAS } from '../watchers';

export type ServiceAction = 'put' | 'get' | 'list' | 'delete';

/** Names a blob gives for a registry this proxymgr.yml does not define: a source error on every sidecar. */
function undefinedTargets(config: Config, watcher: { type: string; options: Record<string, unknown> }): string[] {
  const { ensemble, cluster } = watcher.options;
  if (watcher.type === 'zookeeper' && typeof ensemble === 'string' && !config.zk.get(ensemble)) return [`ensemble: ${JSON.stringify(ensemble)} is not defined in ${config.file} (zookeeper.ensembles)`];
  if (watcher.type === 'etcd' && typeof cluster === 'string' && !config.etcdDir.get(cluster)) return [`cluster: ${JSON.stringify(cluster)} is not defined in ${config.file} (etcd.clusters)`];
  return [];
}

/** Reads and validates a blob for `put`; a bad one is refused (a string: why) before anything is written. */
export function blobFor(config: Config, name: string, file: string): Buffer | string {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
  const parsed = parseServiceDefinition(name, raw, WATCHER_SCHEMAS);
  const errors = parsed.ok ? undefinedTargets(config, parsed.service.watcher) : parsed.errors;
  if (errors.length) return `service ${name} (${file}) is invalid:\n${errors.map((e) => `  - ${e}`).join('\n')}`;
  return Buffer.from(JSON.stringify(raw));
}
