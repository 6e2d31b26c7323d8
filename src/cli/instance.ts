import http from 'node:http';
import { connect } from 'node:net';
import { canonicalHost, isValidHost, isValidPort, isValidWeight, serverName } from '../model/server';
import { isUnixAddress, unixAddressProblem, unixPath } from '../model/unix-socket';

/** What `proxymgr register` announces and how it checks it, whatever the registry (ZooKeeper, etcd). */
export interface InstanceOptions {
  /** An IP, a hostname or `unix:/absolute/path` (then no port). */
  address: string;
  port?: number;
  weight?: number;
  /** An http(s) URL to GET; without it, a connect to address:port (or to the socket). */
  check?: string;
  intervalMs: number;
}

/** Problems with the instance flags, each naming the flag; empty when they are usable. */
export function validateInstance(o: InstanceOptions): string[] {
  const errors: string[] = [];
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
  if (!Number.isInteger(o.intervalMs) || o.intervalMs < 10) errors.push(`--interval-ms ${o.intervalMs}: must be a whole number of milliseconds, at least 10`);
  return errors;
}

/** The local health check: the --check URL answers < 400, else a connect to the instance succeeds. */
export function healthy(o: InstanceOptions): Promise<boolean> {
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

/**
 * The instance's entry under `parent` (a znode or an etcd key prefix) and its data:
 * `address:port` and `{"address","port"}`, or for a socket its server name and `{"address"}`.
 */
export function instanceNode(o: Pick<InstanceOptions, 'address' | 'port' | 'weight'> & { path: string }): { node: string; data: Buffer } {
  const weight = o.weight !== undefined ? { weight: o.weight } : {};
  if (isUnixAddress(o.address)) {
    // A znode name holds no `/` (and in etcd it would nest the key): the socket's server name (`unix_run:app.sock`) stands for the path.
    return { node: `${o.path}/${serverName({ address: o.address, port: 0 })}`, data: Buffer.from(JSON.stringify({ address: o.address, ...weight })) };
  }
  return { node: `${o.path}/${o.address}:${o.port}`, data: Buffer.from(JSON.stringify({ address: canonicalHost(o.address), port: o.port, ...weight })) };
}

/**
 * Waits `ms`, or less when `signal` aborts or `wake` is called. The abort listener is removed
 * again: a register loop pauses every interval for days, and must not pile listeners up.
 */
export function pause(ms: number, signal: AbortSignal): { done: Promise<void>; wake: () => void } {
  let wake = () => undefined as void;
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
    wake = finish;
    if (signal.aborted) finish();
  });
  return { done, wake: () => wake() };
}
