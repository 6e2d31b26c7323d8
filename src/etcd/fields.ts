import { z } from 'zod';

/**
 * One etcd endpoint: `host:port`, `http://host:port` or `https://host:port`. No path: the
 * gRPC API lives at the root. The pattern stays a regex so that `proxymgr schema` carries it.
 */
const ENDPOINT = /^(https?:\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

export const etcdEndpoint = z.string().regex(ENDPOINT, 'must be host:port, http://host:port or https://host:port');

/** `endpoints`: a list, or one string of comma-separated endpoints (as etcdctl's --endpoints takes them). */
export const etcdEndpoints = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((e) => e.trim()) : v),
  z.array(etcdEndpoint).min(1, 'needs at least one endpoint').max(16),
);

/**
 * A key prefix, written like a directory: `/services/web`. Keys directly or deeper under
 * `/services/web/` belong to it; `/services/web2` does not. No trailing slash, no `.`/`..`
 * segments, no control characters (it lands in logs and messages).
 */
export const etcdPrefix = z
  .string()
  .regex(/^(\/[^/\x00-\x1f\x7f]+)+$/, 'must be an absolute key prefix such as /services/web (no trailing slash)')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or .. segments');

/** The name of a cluster in proxymgr.yml (`etcd.clusters`), as blobs and flags name it. */
export const clusterName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -');

/** The range a prefix stands for: every key that starts with `prefix/`. */
export function keyRange(prefix: string): string {
  return `${prefix}/`;
}

/**
 * Endpoints as the client dials them: with a scheme (https when TLS is configured for the
 * cluster, else http), duplicates dropped, in a stable order so that the same set written
 * two ways shares one client.
 */
export function canonicalEndpoints(endpoints: readonly string[], tls: boolean): string[] {
  const withScheme = endpoints.map((e) => (/^https?:\/\//.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`));
  return [...new Set(withScheme)].sort();
}

/** Why a set of endpoints cannot be used with the TLS setting, or undefined. */
export function endpointsProblem(endpoints: readonly string[], tls: boolean): string | undefined {
  const plain = endpoints.filter((e) => e.startsWith('http://'));
  const secure = endpoints.filter((e) => e.startsWith('https://'));
  if (plain.length && secure.length) return 'mixes http:// and https:// endpoints';
  if (tls && plain.length) return `${plain[0]} is http:// but tls is configured`;
  return undefined;
}
