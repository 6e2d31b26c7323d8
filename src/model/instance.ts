import { parseServerSpec, isValidHost, isValidPort, isValidWeight, canonicalHost, type ParseResult, type Server } from './server';
import { isUnixAddress, unixAddressProblem } from './unix-socket';

/**
 * A decoded instance znode. `ok: false` with a `status` is a well-formed member that is
 * not serving (a serverset member whose status is not ALIVE): left out, not an error.
 */
export type DecodedInstance = ParseResult<Server> | { ok: false; error: string; status: string };

/** The serverset status that serves; Finagle's other statuses (DEAD, STARTING, STOPPING, ...) do not. */
const ALIVE = 'ALIVE';

/**
 * Decodes one instance znode's data. Accepted shapes: ProxyMgr `{"address","port"}`,
 * Nerve `{"host","port","name","weight"}`, Finagle serverset
 * `{"serviceEndpoint":{"host","port"},"status"}`, or a plain `host:port [weight]` string.
 * A UNIX domain socket is an address (or host) `unix:/absolute/path` with no port, in
 * any of them (ProxyMgr: `{"address": "unix:/run/app.sock", "weight": 5}`), or the plain
 * string `unix:/absolute/path [weight]`.
 *
 * Only the serverset format has a member status: a member counts when `status` is
 * `ALIVE` or absent (null counts as absent). ProxyMgr and Nerve have no such field (an
 * instance that is not healthy removes its znode), so a `status` key there is ignored.
 */
export function decodeInstance(data: Buffer): DecodedInstance {
  const text = data.toString('utf8').trim();
  if (!text) return { ok: false, error: 'empty data' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return parseServerSpec(text);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'expected a JSON object' };
  const o = raw as Record<string, unknown>;
  const serverset = typeof o.serviceEndpoint === 'object' && o.serviceEndpoint !== null;
  const endpoint = (serverset ? o.serviceEndpoint : o) as Record<string, unknown>;
  const host = endpoint.address ?? endpoint.host;
  const port = endpoint.port;
  const unix = typeof host === 'string' && isUnixAddress(host);
  const problem = unix ? unixAddressProblem(host) : undefined;
  if (problem) return { ok: false, error: `invalid address ${JSON.stringify(host)}: ${problem}` };
  if (unix && port !== undefined && port !== null) return { ok: false, error: `a unix socket address takes no port, got port ${JSON.stringify(port)}` };
  if (unix) return withStatus(o, serverset, withWeight(o, { address: host, port: 0 }));
  if (typeof host !== 'string' || !isValidHost(host)) return { ok: false, error: `invalid or missing address/host: ${JSON.stringify(host)}` };
  if (typeof port !== 'number' || !isValidPort(port)) return { ok: false, error: `invalid or missing port: ${JSON.stringify(port)}` };
  return withStatus(o, serverset, withWeight(o, { address: canonicalHost(host), port }));
}

function withWeight(o: Record<string, unknown>, server: Server): ParseResult<Server> {
  if (o.weight === undefined) return { ok: true, value: server };
  if (typeof o.weight !== 'number' || !isValidWeight(o.weight)) return { ok: false, error: `invalid weight: ${JSON.stringify(o.weight)}` };
  return { ok: true, value: { ...server, weight: o.weight } };
}

function withStatus(o: Record<string, unknown>, serverset: boolean, decoded: ParseResult<Server>): DecodedInstance {
  if (decoded.ok && serverset && o.status !== undefined && o.status !== null && o.status !== ALIVE) {
    const status = typeof o.status === 'string' ? o.status : JSON.stringify(o.status);
    return { ok: false, error: `status ${status} (not ${ALIVE})`, status };
  }
  return decoded;
}
