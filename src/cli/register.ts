import type { Logger } from '../log';
import { connectStringProblem, znodePath } from '../zk/fields';
import { describeZkError } from '../zk/errors';
import { zk } from '../zk/ops';
import { ZkSession } from '../zk/session';
import { chrootOf, describeTarget, type ZkTarget } from '../zk/target';
import { healthy, instanceNode, pause, validateInstance, type InstanceOptions } from './instance';

export interface RegisterOptions extends InstanceOptions {
  /** A connect string (`--zk`), or undefined with `ensemble`. */
  zk?: string;
  /** An ensemble of proxymgr.yml (`--ensemble NAME -c proxymgr.yml`). */
  ensemble?: string;
  config?: string;
  path: string;
}

/** Problems with the options, each naming the flag; empty when they are usable. */
export function validateRegister(o: RegisterOptions): string[] {
  const errors: string[] = [];
  if ((o.zk === undefined) === (o.ensemble === undefined)) errors.push('needs exactly one of --zk, --ensemble (ZooKeeper; for etcd: --etcd or --etcd-cluster)');
  if (o.zk !== undefined && connectStringProblem(o.zk)) errors.push(`--zk ${JSON.stringify(o.zk)}: ${connectStringProblem(o.zk)}`);
  if (o.ensemble !== undefined && o.config === undefined) errors.push('--ensemble needs -c proxymgr.yml (where the ensemble is defined)');
  if (o.path === undefined) errors.push('--path: required (the instances znode, e.g. /services/web)');
  else if (!znodePath.safeParse(o.path).success) errors.push(`--path ${JSON.stringify(o.path)}: must be an absolute znode path`);
  errors.push(...validateInstance(o));
  return errors;
}

/**
 * Keeps an ephemeral instance znode `<path>/<address>:<port>` (for a socket,
 * `<path>/<its server name>`) while the local health
 * check passes (what Nerve does): deleted when the check fails, re-created when it
 * passes again, after a new ZooKeeper session, or when it was deleted by hand (one
 * `exists` per interval). The znode and any parent it creates get
 * the target's ACL. Resolves when `signal` aborts.
 */
export async function register(o: RegisterOptions, target: ZkTarget, log: Logger, signal: AbortSignal): Promise<void> {
  const { node, data } = instanceNode(o);
  const session = ZkSession.forTarget(target);
  const where = describeTarget(target);
  let registered = false;
  session.on('replaced', () => (registered = false));
  try {
    while (!signal.aborted) {
      const ok = await healthy(o);
      try {
        if (ok && !registered) {
          await session.connected(o.intervalMs * 5);
          await zk.putEphemeral(session.client, node, data, target.acl);
          registered = true;
          log.info({ event: 'registered', znode: node }, 'health check passes: instance registered');
        } else if (ok && registered && !(await zk.exists(session.client, node))) {
          // Deleted by hand (the session lives on): created again; one edited by hand is left as the operator made it.
          await zk.putEphemeral(session.client, node, data, target.acl);
          log.warn({ event: 'reregistered', znode: node }, 'instance znode was deleted while the check passes: created again');
        } else if (!ok && registered) {
          await zk.remove(session.client, node);
          registered = false;
          log.warn({ event: 'deregistered', znode: node }, 'health check fails: instance removed');
        }
      } catch (err) {
        const error = `${where} ${node}: ${describeZkError(err, ok ? 'create' : 'delete', target.auth, chrootOf(target))}`;
        log.warn({ event: 'register_error', znode: node, error }, 'could not register or deregister; will retry');
      }
      await pause(o.intervalMs, signal).done;
    }
    if (registered) await zk.remove(session.client, node).catch(() => undefined);
  } finally {
    session.release();
  }
}
