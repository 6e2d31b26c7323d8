import http from 'node:http';
import { connect } from 'node:net';
import type { Logger } from '../log';
import { canonicalHost, isValidHost, isValidPort, isValidWeight, serverName } from '../model/server';
import { isUnixAddress, unixAddressProblem, unixPath } from '../model/unix-socket';
import { connectStringProblem, znodePath } from '../zk/fields';
import { describeZkError } from '../zk/errors';
import { zk } from '../zk/ops';
import { ZkSession } from '../zk/session';
import { chrootOf, describeTarget, type ZkTarget } from '../zk/target';

export interface RegisterOptions {
  /** A connect string (`--zk`), or undefined with `ensemble`. */
  zk?: string;
  /** An ensemble of proxymgr.yml (`--ensemble NAME -c proxymgr.yml`). */
  ensemble?: string;
  config?: string;
  path: string;
  /** An IP, a hostname or `unix:/absolute/path` (then no port). */
  address: string;
  port?: number;
  weight?: number;
  /** An http(s) URL to GET; without it, a connect to address:port (or to the socket). */
  check?: string;
  intervalMs: number;
}

/** Problems with the options, each naming the flag; empty when they are usable. */
export function validateRegister(o: RegisterOptions): string[] {
  const errors: string[] = [];
  if ((o.zk === undefined) === (o.ensemble === undefined)) errors.push('needs exactly one of --zk, --ensemble');
  if (o.zk !== undefined && connectStringProblem(o.zk)) errors.push(`--zk ${JSON.stringify(o.zk)}: ${connectStringProblem(o.zk)}`);
  if (o.ensemble !== undefined && o.config === undefined) errors.push('--ensemble needs -c proxymgr.yml (where the ensemble is defined)');
  if (!znodePath.safeParse(o.path).success) errors.push(`--path ${JSON.stringify(o.path)}: must be an absolute znode path`);
  if (isUnixAddress(o.address)) {
    const problem = unixAddressProblem(o.address);
    if (problem) errors.push(`--address ${JSON.stringify(o.address)}: ${problem}`);
    if (o.port !== undefined) errors.push(`--port ${o.port}: a unix socket address takes no port`);
  } else {
    if (!isValidHost(o.address)) errors.push(`--address ${JSON.stringify(o.address)}: must be an IP address, a hostname or unix:/absolute/path`);
    if (o.port === undefined) errors.push('--port: required (except with --address unix:/path)');
    else if (!isValidPort(o.port)) errors.push(`--port ${o.port}: must be 1..65535`);
  }
  if (o.weight !== undefined && !isValidWeight(o.weight)) errors.push(`--weight ${o.weight}: must be 0..256`);
  if (o.check !== undefined && !/^http:\/\//.test(o.check)) errors.push(`--check ${JSON.stringify(o.check)}: must be an http:// URL`);
  return errors;
}

function healthy(o: RegisterOptions): Promise<boolean> {
  return new Promise((resolve) => {
    if (o.check) {
      const req = http.get(o.check, { timeout: 2000, agent: false }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      return;
    }
    const s = isUnixAddress(o.address) ? connect({ path: unixPath(o.address), timeout: 2000 }) : connect({ host: o.address, port: o.port!, timeout: 2000 });
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('timeout', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(false));
  });
}

/** The instance znode's name and data: `address:port` and `{"address","port"}`, or for a socket its server name and `{"address"}`. */
export function instanceNode(o: Pick<RegisterOptions, 'path' | 'address' | 'port' | 'weight'>): { node: string; data: Buffer } {
  const weight = o.weight !== undefined ? { weight: o.weight } : {};
  if (isUnixAddress(o.address)) {
    // A znode name holds no `/`: the socket's server name (`unix_run:app.sock`) stands for the path.
    return { node: `${o.path}/${serverName({ address: o.address, port: 0 })}`, data: Buffer.from(JSON.stringify({ address: o.address, ...weight })) };
  }
  return { node: `${o.path}/${o.address}:${o.port}`, data: Buffer.from(JSON.stringify({ address: canonicalHost(o.address), port: o.port, ...weight })) };
}

/**
 * Keeps an ephemeral instance znode `<path>/<address>:<port>` (for a socket,
 * `<path>/<its server name>`) while the local health
 * check passes (what Nerve does): deleted when the check fails, re-created when it
 * passes again or after a new ZooKeeper session. The znode and any parent it creates get
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
        } else if (!ok && registered) {
          await zk.remove(session.client, node);
          registered = false;
          log.warn({ event: 'deregistered', znode: node }, 'health check fails: instance removed');
        }
      } catch (err) {
        const error = `${where} ${node}: ${describeZkError(err, ok ? 'create' : 'delete', target.auth, chrootOf(target))}`;
        log.warn({ event: 'register_error', znode: node, error }, 'could not register or deregister; will retry');
      }
      await new Promise((r) => {
        const t = setTimeout(r, o.intervalMs);
        signal.addEventListener('abort', () => (clearTimeout(t), r(undefined)), { once: true });
      });
    }
    if (registered) await zk.remove(session.client, node).catch(() => undefined);
  } finally {
    session.release();
  }
}
