import { parseServerSpec, isValidHost, isValidPort, isValidWeight, canonicalHost, type ParseResult, type Server } from '../model/server';

/**
 * Decodes one instance znode's data. Accepted shapes: ProxyMgr `{"address","port"}`,
 * Nerve `{"host","port","name","weight"}`, Finagle serverset
 * `{"serviceEndpoint":{"host","port"}}`, or a plain `host:port [weight]` string.
 */
export function decodeInstance(data: Buffer): ParseResult<Server> {
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
  const endpoint = (typeof o.serviceEndpoint === 'object' && o.serviceEndpoint !== null ? o.serviceEndpoint : o) as Record<string, unknown>;
  const host = endpoint.address ?? endpoint.host;
  const port = endpoint.port;
  if (typeof host !== 'string' || !isValidHost(host)) return { ok: false, error: `invalid or missing address/host: ${JSON.stringify(host)}` };
  if (typeof port !== 'number' || !isValidPort(port)) return { ok: false, error: `invalid or missing port: ${JSON.stringify(port)}` };
  const server: Server = { address: canonicalHost(host), port };
  if (o.weight !== undefined) {
    if (typeof o.weight !== 'number' || !isValidWeight(o.weight)) return { ok: false, error: `invalid weight: ${JSON.stringify(o.weight)}` };
    server.weight = o.weight;
  }
  return { ok: true, value: server };
}
