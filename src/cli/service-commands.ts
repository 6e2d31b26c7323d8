import { readFileSync } from 'node:fs';
import type { Config } from '../config/load';
import { parseServiceDefinition } from '../model/service';
import { WATCHER_SCHEMAS } from '../watchers';
import { formatAcl } from '../zk/acl';
import { describeZkError } from '../zk/errors';
import { zk } from '../zk/ops';
import { ZkSession } from '../zk/session';
import { chrootOf, describeTarget } from '../zk/target';
import { cliTarget, type ZkCliFlags } from './zk-auth';

/** Reads and validates a blob for `put`; a bad one is refused before anything is written. */
function blobFor(config: Config, name: string, file: string): Buffer | string {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
  const parsed = parseServiceDefinition(name, raw, WATCHER_SCHEMAS);
  const errors = parsed.ok ? [] : parsed.errors;
  // A blob naming an ensemble this proxymgr.yml does not define would be a source error on every sidecar.
  const ensemble = parsed.ok && parsed.service.watcher.type === 'zookeeper' ? parsed.service.watcher.options.ensemble : undefined;
  if (typeof ensemble === 'string' && !config.zk.get(ensemble)) errors.push(`ensemble: ${JSON.stringify(ensemble)} is not defined in ${config.file} (zookeeper.ensembles)`);
  if (errors.length) return `service ${name} (${file}) is invalid:\n${errors.map((e) => `  - ${e}`).join('\n')}`;
  return Buffer.from(JSON.stringify(raw));
}

/**
 * `proxymgr service put|get|list|delete`: manage service blobs in the configured ZooKeeper,
 * as proxymgr.yml's identity or the one given with --auth-file (or the environment). `put`
 * creates the znode and its missing parents with the configured ACL (or --acl).
 */
export async function serviceCommand(config: Config, action: 'put' | 'get' | 'list' | 'delete', name?: string, file?: string, flags: ZkCliFlags = {}, env = process.env): Promise<number> {
  const sc = config.service_config;
  const fail = (message: string, code = 1) => (process.stderr.write(`proxymgr service ${action}: ${message}\n`), code);
  if (sc.type === 'file') {
    process.stderr.write(`proxymgr service: needs service_config type zookeeper or etcd (${config.file} has file); edit the files in ${sc.path}\n`);
    return 2;
  }
  if (sc.type !== 'zookeeper' || !config.zk.serviceConfig) return 2;
  const resolved = cliTarget(config.zk.serviceConfig, flags, env);
  if (!resolved.ok) return fail(resolved.error, 2);
  const target = resolved.target;
  let blob: Buffer | undefined;
  if (action === 'put') {
    const b = blobFor(config, name!, file!);
    if (typeof b === 'string') return fail(b);
    blob = b;
  }
  const path = name === undefined ? sc.path : `${sc.path}/${name}`;
  const session = ZkSession.forTarget(target);
  try {
    await session.connected();
    const c = session.client;
    switch (action) {
      case 'put':
        await zk.put(c, path, blob!, target.acl);
        process.stdout.write(`service ${name} written to ${path} (ACL of znodes created: ${formatAcl(target.acl)})\n`);
        return 0;
      case 'get': {
        const data = await zk.getData(c, path);
        if (data === undefined) return fail(`no service ${name} at ${path}`);
        process.stdout.write(`${data.toString('utf8')}\n`);
        return 0;
      }
      case 'list':
        for (const child of (await zk.children(c, sc.path)).sort()) process.stdout.write(`${child}\n`);
        return 0;
      case 'delete':
        await zk.remove(c, path);
        process.stdout.write(`service ${name} deleted\n`);
        return 0;
    }
  } catch (err) {
    const op = { put: 'write', get: 'read', list: 'list', delete: 'delete' }[action];
    return fail(`${describeTarget(target)} ${path}: ${describeZkError(err, op, target.auth, chrootOf(target))}`);
  } finally {
    session.release();
  }
}
