import type { Config } from '../config/load';
import { EtcdClient } from '../etcd/client';
import { keyRange } from '../etcd/fields';
import { servicesFromKeys } from '../service-config/etcd';
import { EtcdServiceStore } from '../service-config/store-etcd';
import { describeEtcdFailure, etcdCliTarget, type EtcdCliFlags } from './etcd-auth';
import { blobFor, type ServiceAction } from './service-blob';

/** The service names under `prefix` (each key's last segment), sorted, and the keys that name no valid service. */
export function serviceNames(prefix: string, keys: readonly string[]): { names: string[]; badKeys: string[] } {
  const range = keyRange(prefix);
  const { services, badKeys } = servicesFromKeys(new Map(keys.map((k) => [k.slice(range.length), Buffer.alloc(0)])));
  return { names: [...services.keys()].sort(), badKeys: badKeys.map((k) => `${range}${k}`).sort() };
}

/**
 * `proxymgr service` against etcd: the key PREFIX/NAME (or the one deeper key whose last
 * segment is NAME, as the agents read them), through the HTTP API's own store so that both
 * find and write the same key.
 */
export async function etcdServiceCommand(config: Config, action: ServiceAction, name: string | undefined, file: string | undefined, flags: EtcdCliFlags & { acl?: string }, env: NodeJS.ProcessEnv): Promise<number> {
  const sc = config.service_config;
  const fail = (message: string, code = 1) => (process.stderr.write(`proxymgr service ${action}: ${message}\n`), code);
  if (sc.type !== 'etcd' || !config.etcdDir.serviceConfig) return 2;
  if (flags.acl !== undefined) return fail('--acl is for ZooKeeper; etcd permissions are roles granted to users (etcdctl role grant-permission)', 2);
  const resolved = etcdCliTarget(config.etcdDir.serviceConfig, flags, env);
  if (!resolved.ok) return fail(resolved.error, 2);
  const target = resolved.target;
  let blob: unknown;
  if (action === 'put') {
    const b = blobFor(config, name!, file!);
    if (typeof b === 'string') return fail(b);
    blob = JSON.parse(b.toString('utf8'));
  }
  const store = new EtcdServiceStore(target, sc.prefix);
  // The store's client is this one (shared per target): one connection for the command.
  const client = EtcdClient.acquire(target);
  let key = name === undefined ? keyRange(sc.prefix) : `${keyRange(sc.prefix)}${name}`;
  const op = { put: 'write', get: 'read', list: 'list', delete: 'delete' }[action];
  try {
    switch (action) {
      case 'put': {
        key = await store.keyOf(name!);
        const { version, created } = await store.write(name!, blob);
        process.stdout.write(`service ${name} ${created ? 'created' : 'written'} at ${key} (revision ${version})\n`);
        return 0;
      }
      case 'get': {
        key = await store.keyOf(name!);
        const kv = (await client.etcd.get(key).exec()).kvs[0];
        if (!kv) return fail(`no service ${name} under ${sc.prefix}`);
        // As stored, even when it is not valid JSON: that is what an operator needs to see to fix it.
        process.stdout.write(`${kv.value.toString('utf8')}\n`);
        return 0;
      }
      case 'list': {
        const { names, badKeys } = serviceNames(sc.prefix, await client.etcd.getAll().prefix(key).keys());
        for (const n of names) process.stdout.write(`${n}\n`);
        for (const k of badKeys) process.stderr.write(`proxymgr service list: ${k}: not a valid service name; the agents ignore it\n`);
        return 0;
      }
      case 'delete': {
        key = await store.keyOf(name!);
        const removed = await store.remove(name!);
        process.stdout.write(removed ? `service ${name} deleted (${key})\n` : `service ${name}: none under ${sc.prefix}; nothing to delete\n`);
        return 0;
      }
    }
  } catch (err) {
    return fail(describeEtcdFailure(err, target, key, op));
  } finally {
    store.close();
    client.release();
  }
}
