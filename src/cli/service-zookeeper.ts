import type { Config } from '../config/load';
import { formatAcl } from '../zk/acl';
import { describeZkError } from '../zk/errors';
import { zk } from '../zk/ops';
import { ZkSession } from '../zk/session';
import { chrootOf, describeTarget } from '../zk/target';
import { blobFor, type ServiceAction } from './service-blob';
import { cliTarget, type ZkCliFlags } from './zk-auth';

/** `proxymgr service` against ZooKeeper: the znode PATH/NAME. `put` creates it and its missing parents with the configured ACL (or --acl). */
export async function zkServiceCommand(config: Config, action: ServiceAction, name: string | undefined, file: string | undefined, flags: ZkCliFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const sc = config.service_config;
  const fail = (message: string, code = 1) => (process.stderr.write(`proxymgr service ${action}: ${message}\n`), code);
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
