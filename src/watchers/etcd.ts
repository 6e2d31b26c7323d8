import { normalizeServers, type Server } from '../model/server';
import { decodeInstance } from '../model/instance';
import { oneOf } from '../model/service';
import { EtcdClient } from '../etcd/client';
import { canonicalEndpoints, clusterName, etcdEndpoints, etcdPrefix } from '../etcd/fields';
import { PrefixCache } from '../etcd/prefix-cache';
import { describeEtcdTarget, type EtcdTarget } from '../etcd/target';
import type { WatcherContext, WatcherType } from './watcher';

/**
 * The target a blob names: a cluster of proxymgr.yml (with its credentials and TLS), or
 * endpoints, which get those of the cluster with exactly these endpoints. Blobs come from
 * the registry and never carry credentials themselves.
 */
function targetOf(options: Record<string, unknown>, ctx: WatcherContext): EtcdTarget | string {
  const dir = ctx.defaults.etcd;
  if (typeof options.cluster === 'string') {
    return dir?.get(options.cluster) ?? `etcd cluster ${JSON.stringify(options.cluster)} is not defined in proxymgr.yml (etcd.clusters)`;
  }
  const endpoints = options.endpoints as string[];
  return dir ? dir.forEndpoints(endpoints) : { endpoints: canonicalEndpoints(endpoints, false) };
}

/**
 * `"endpoints": ["etcd1:2379", ...]` or `"cluster": "NAME"`, and `"prefix": "/services/web"`:
 * each key under `prefix/` is one instance, its value in any instance format the zookeeper
 * watcher takes. An instance registered with a lease goes when its lease does.
 */
export const etcdWatcher: WatcherType = {
  options: { endpoints: oneOf(etcdEndpoints.optional(), 'etcd'), cluster: oneOf(clusterName.optional(), 'etcd'), prefix: etcdPrefix },
  create(options, ctx) {
    const prefix = options.prefix as string;
    const target = targetOf(options, ctx);
    let client: EtcdClient | undefined;
    let cache: PrefixCache | undefined;
    /** Keys left out, with why, so each is logged once per reason. */
    const skipped = new Map<string, string>();
    return {
      start() {
        if (typeof target === 'string') return ctx.onError(`${target}; keeping the previous servers`);
        client = EtcdClient.acquire(target);
        const where = describeEtcdTarget(target);
        cache = new PrefixCache(client, prefix, {
          onChange(entries) {
            const servers: Server[] = [];
            for (const [key, value] of entries) {
              const decoded = decodeInstance(value);
              if (decoded.ok) {
                servers.push(decoded.value);
                skipped.delete(key);
                continue;
              }
              if (skipped.get(key) === decoded.error) continue;
              skipped.set(key, decoded.error);
              // ctx.log already carries `service` (and `watcher`): not repeated here.
              if ('status' in decoded) ctx.log.info({ event: 'instance_not_alive', key: `${prefix}/${key}`, status: decoded.status }, `instance left out: status ${decoded.status}`);
              else ctx.log.warn({ event: 'instance_invalid', key: `${prefix}/${key}`, error: decoded.error }, 'instance skipped');
            }
            for (const key of skipped.keys()) if (!entries.has(key)) skipped.delete(key);
            // Keys have no meaningful order: name order, for `balance first` too.
            ctx.onUpdate(normalizeServers(servers));
          },
          onError: (message) => ctx.onError(`${message}; keeping the previous servers`),
          onRead(reason) {
            if (reason !== 'start') ctx.log.warn({ event: 'etcd_reread', server: where, prefix, reason }, 'etcd watch could not resume; reading the instances again (servers kept meanwhile)');
          },
        });
        cache.start();
      },
      async stop() {
        cache?.stop();
        client?.release();
      },
    };
  },
};
