import { isIP } from 'node:net';
import { isUnixAddress, unixAddressProblem, unixHaproxyAddress, unixServerName } from './unix-socket';

/**
 * One backend server as a watcher reports it. `address` is an IP literal, a hostname or
 * a UNIX domain socket as `unix:/absolute/path` (whose `port` is 0: a socket has none).
 */
export interface Server {
  address: string;
  port: number;
  weight?: number;
  /** Set when `address` was resolved from a hostname: the name stays `hostname:port`. */
  name?: string;
  /** An operator's override: held in drain or maint instead of ready. */
  admin?: 'drain' | 'maint';
  /** Takes traffic only when no non-backup server is up (HAProxy `backup`). */
  backup?: boolean;
}

export const MAX_WEIGHT = 256;

/**
 * The server a FastCGI service with no servers is rendered with: HAProxy 2.6 refuses a
 * proxy that uses an fcgi-app and has no `proto fcgi` server ("FCGI app configured but no
 * FCGI server found"), while ZooKeeper or a file may well report none yet. A service whose
 * server tokens name a CA or certificate file gets it too: HAProxy loads those files only
 * from the config, and `add server` may use only loaded ones. It is in maint
 * (never takes traffic), and `show servers state` readings leave it out, so the planner
 * and the drift pass never see it. No source can yield this name: theirs carry a port,
 * or start with `v6_`, `unix_` or `unix-`.
 */
export const PLACEHOLDER_SERVER = 'proxymgr.placeholder';

const HOSTNAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isValidHost(host: string): boolean {
  // A zone id (fe80::1%eth0) cannot be written in a server name or reach HAProxy safely.
  if (host.includes('%')) return false;
  if (isIP(host) !== 0) return true;
  // "010.0.0.1" or "1.2.3" would be read by libc as legacy IPv4 numbers, not what they look like.
  if (/^[0-9.]+$/.test(host)) return false;
  return HOSTNAME.test(host);
}

/** One spelling per address, so duplicates are found: lower-case names, compressed IPv6. */
export function canonicalHost(host: string): string {
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return host.toLowerCase().replace(/\.$/, '');
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function isValidWeight(weight: number): boolean {
  return Number.isInteger(weight) && weight >= 0 && weight <= MAX_WEIGHT;
}

/**
 * The HAProxy server name for a backend. Stable across renders, so the runtime
 * socket can address a server by name whatever else changed. IPv6 names get
 * their colons replaced and a prefix no hostname can have, so that
 * `name:port` stays unambiguous.
 */
export function serverName(server: Pick<Server, 'address' | 'port' | 'name'>): string {
  if (server.name !== undefined) return server.name;
  if (isUnixAddress(server.address)) return unixServerName(server.address);
  if (isIP(server.address) === 6) return `v6_${server.address.replace(/:/g, '.')}_${server.port}`;
  return `${server.address}:${server.port}`;
}

/**
 * `address:port` as HAProxy reads it (the last colon separates the port, so v6 needs no
 * brackets), in a haproxy.cfg `server` line and in a runtime `add server`; `unix@/path`
 * for a socket.
 */
export function serverAddress(server: Pick<Server, 'address' | 'port'>): string {
  if (isUnixAddress(server.address)) return unixHaproxyAddress(server.address);
  return `${server.address}:${server.port}`;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses `host:port [weight]`; `[v6]:port` for IPv6, `unix:/absolute/path` for a UNIX
 * domain socket. Used for static list strings, the lines of a servers file and plain
 * ZooKeeper instance data.
 */
export function parseServerSpec(text: string): ParseResult<Server> {
  const parts = text.trim().split(/\s+/);
  if (parts.length === 0 || parts[0] === '') return { ok: false, error: 'empty server entry' };
  if (parts.length > 2) return { ok: false, error: `expected "host:port [weight]" or "unix:/path [weight]", got ${JSON.stringify(text)}` };
  const hostPort = parts[0];
  // `unix:80` is the host "unix" on port 80; anything else after `unix:` means a socket.
  if (/^unix(:(?!\d*$)|@)/i.test(hostPort) || hostPort.startsWith('/')) return withWeight(parseUnixSpec(hostPort), parts[1]);
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(hostPort);
  if (v6) {
    [, host, portText] = v6;
    if (isIP(host) !== 6 || !isValidHost(host)) return { ok: false, error: `invalid IPv6 address ${JSON.stringify(host)}` };
  } else {
    const idx = hostPort.lastIndexOf(':');
    if (idx <= 0) return { ok: false, error: `missing port in ${JSON.stringify(hostPort)}` };
    host = hostPort.slice(0, idx);
    portText = hostPort.slice(idx + 1);
    if (host.includes(':')) return { ok: false, error: `IPv6 addresses need brackets: ${JSON.stringify(hostPort)}` };
  }
  if (!isValidHost(host)) return { ok: false, error: `invalid host ${JSON.stringify(host)}` };
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!isValidPort(port)) return { ok: false, error: `invalid port ${JSON.stringify(portText)} (1..65535)` };
  return withWeight({ ok: true, value: { address: canonicalHost(host), port } }, parts[1]);
}

/** `unix:/path`, the one spelling: `unix@/path` (HAProxy's) and a bare path are pointed to it. */
function parseUnixSpec(text: string): ParseResult<Server> {
  if (!text.startsWith('unix:')) return { ok: false, error: `a unix socket server is written "unix:/absolute/path", got ${JSON.stringify(text)}` };
  const problem = unixAddressProblem(text);
  return problem ? { ok: false, error: `invalid unix socket address ${JSON.stringify(text)}: ${problem}` } : { ok: true, value: { address: text, port: 0 } };
}

function withWeight(parsed: ParseResult<Server>, text: string | undefined): ParseResult<Server> {
  if (!parsed.ok || text === undefined) return parsed;
  const weight = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!isValidWeight(weight)) return { ok: false, error: `invalid weight ${JSON.stringify(text)} (0..${MAX_WEIGHT})` };
  return { ok: true, value: { ...parsed.value, weight } };
}

/** Sorted by name with duplicates (same name) removed, the last one winning. */
export function normalizeServers(servers: readonly Server[]): Server[] {
  const byName = new Map<string, Server>();
  for (const s of servers) byName.set(serverName(s), s);
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

/**
 * In the order the source declared them (a static list, the lines of a servers file), with
 * duplicates (same name) removed as `normalizeServers` does: the last one's fields win, at
 * the place of the first. `balance first` services run in this order; every other service
 * gets `inNameOrder` of it.
 */
export function dedupServers(servers: readonly Server[]): Server[] {
  const byName = new Map<string, Server>();
  for (const s of servers) byName.set(serverName(s), s);
  return byName.size === servers.length ? [...servers] : [...byName.values()];
}

const nameOrdered = new WeakMap<readonly Server[], Server[]>();

/**
 * `normalizeServers` of a list, the same array when it already is (ZooKeeper, DNS) and
 * one cached array per input otherwise, so an untouched list keeps its identity.
 */
export function inNameOrder(servers: Server[]): Server[] {
  let inOrder = true;
  for (let i = 1; i < servers.length && inOrder; i++) inOrder = serverName(servers[i - 1]) < serverName(servers[i]);
  if (inOrder) return servers;
  let sorted = nameOrdered.get(servers);
  if (!sorted) nameOrdered.set(servers, (sorted = normalizeServers(servers)));
  return sorted;
}

/**
 * The HAProxy server `id` of the server at `index` of a `balance first` service (which
 * picks the lowest id first). Spaced, so a server added at runtime between two others can
 * get an id between theirs without a reload.
 */
export const SERVER_ID_STEP = 10;
export function serverIdAt(index: number): number {
  return (index + 1) * SERVER_ID_STEP;
}

export function sameServers(a: readonly Server[], b: readonly Server[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((s, i) => s.address === b[i].address && s.port === b[i].port && s.weight === b[i].weight && s.name === b[i].name && !s.backup === !b[i].backup && s.admin === b[i].admin);
}
