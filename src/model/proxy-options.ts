import { z } from 'zod';
import type { FileNeed, ProxySection } from './options/feature';
import { FEATURES } from './options';
import { pathPrefix } from './routing';

/**
 * Typed per-service keys (the seeds' balancing, health and limits) and the HAProxy lines
 * they stand for. They compile to listen and server option lines placed before the blob's
 * own `listen_options`/`server_options`, which stay the escape hatch (and, coming later
 * in the section, win where HAProxy takes the last value).
 */
const ms = z.int('must be an integer (milliseconds)').min(1, 'must be at least 1 ms').max(86_400_000, 'must be at most a day');
const count = (max: number) => z.int('must be an integer').min(1, `must be 1..${max}`).max(max, `must be 1..${max}`);

const baseKeys = {
  /** Default: what `haproxy.defaults` says (`mode tcp` unless changed). */
  mode: z.enum(['tcp', 'http'], 'must be tcp or http').optional(),
  /** `first` is first-alive; weights give weighted round robin. All are dynamic, so servers still come and go without a reload. */
  balance: z.enum(['roundrobin', 'leastconn', 'first', 'random', 'source'], 'must be one of roundrobin, leastconn, first, random, source').optional(),
  check: z
    .strictObject({
      interval_ms: ms.optional(),
      rise: count(100).optional(),
      fall: count(100).optional(),
      /** An HTTP check (GET this path) instead of a TCP connect. */
      // The same characters as a routing path: `#` would cut the httpchk line (HAProxy reads a comment).
      http_path: pathPrefix.optional(),
      expect_status: z.int().min(100, 'must be an HTTP status 100..599').max(599, 'must be an HTTP status 100..599').optional(),
    })
    .optional(),
  /** Monkey's high-availability knobs: a server failing `attempts` connections in a row is taken out, then checked again every `offline_timeout_ms`. */
  attempts: count(100).optional(),
  offline_timeout_ms: ms.optional(),
  maxconn: count(1_000_000).optional(),
  server_maxconn: count(1_000_000).optional(),
  timeouts: z
    .strictObject({
      connect_ms: ms.optional(),
      client_ms: ms.optional(),
      server_ms: ms.optional(),
      queue_ms: ms.optional(),
      check_ms: ms.optional(),
    })
    .optional(),
};

/** Every typed key: the base ones above and each feature group's (options/). */
export const proxyOptionKeys: z.ZodRawShape = Object.assign({}, baseKeys, ...FEATURES.map((f) => f.keys));

export type ProxyOptions = {
  [K in keyof typeof baseKeys]?: z.infer<(typeof baseKeys)[K]>;
} & Readonly<Record<string, unknown>>;

export interface CompiledOptions {
  listen: string[];
  server: string[];
  sections: ProxySection[];
  /** Files the keys name, to be checked where the blob is accepted; absent when none. */
  files?: FileNeed[];
}

/** Errors of rules that span several typed keys (`key: message`); empty when the blob is sound. */
export function proxyOptionProblems(o: ProxyOptions): string[] {
  return FEATURES.flatMap((f) => f.problems?.(o) ?? []);
}

/**
 * The listen and server option lines, and the sections of its own, that the typed keys
 * stand for. Pure; the same input gives the same lines. `service` names the sections.
 */
export function compileProxyOptions(o: ProxyOptions, service = ''): CompiledOptions {
  const { listen, server } = compileBase(o);
  const sections: ProxySection[] = [];
  const files: FileNeed[] = [];
  for (const f of FEATURES) {
    const c = f.compile(o, service);
    listen.push(...(c.listen ?? []));
    server.push(...(c.server ?? []));
    sections.push(...(c.sections ?? []));
    files.push(...(c.files ?? []));
  }
  return { listen, server: server.length ? [server.join(' ')] : [], sections, ...(files.length && { files }) };
}

function compileBase(o: ProxyOptions): { listen: string[]; server: string[] } {
  const listen: string[] = [];
  const server: string[] = [];
  if (o.mode) listen.push(`mode ${o.mode}`);
  if (o.balance) {
    listen.push(`balance ${o.balance}`);
    // The default map-based hash is static (no `add server` at runtime); consistent hashing is dynamic.
    if (o.balance === 'source') listen.push('hash-type consistent');
  }
  if (o.maxconn) listen.push(`maxconn ${o.maxconn}`);
  const t = o.timeouts ?? {};
  for (const [key, line] of [
    ['connect_ms', 'connect'],
    ['client_ms', 'client'],
    ['server_ms', 'server'],
    ['queue_ms', 'queue'],
    ['check_ms', 'check'],
  ] as const) {
    if (t[key] !== undefined) listen.push(`timeout ${line} ${t[key]}ms`);
  }
  // The availability knobs need checks: a server marked down comes back only through one.
  const ha = o.attempts !== undefined || o.offline_timeout_ms !== undefined;
  if (o.check || ha) {
    const c = o.check ?? {};
    if (c.http_path) listen.push(`option httpchk GET ${c.http_path}`);
    if (c.expect_status !== undefined) {
      if (!c.http_path) listen.push('option httpchk GET /');
      listen.push(`http-check expect status ${c.expect_status}`);
    }
    server.push('check');
    if (c.interval_ms !== undefined) server.push(`inter ${c.interval_ms}ms`);
    if (c.rise !== undefined) server.push(`rise ${c.rise}`);
    if (c.fall !== undefined) server.push(`fall ${c.fall}`);
  }
  if (o.attempts !== undefined) {
    listen.push(`retries ${o.attempts}`);
    server.push(`observe layer4 error-limit ${o.attempts} on-error mark-down`);
  }
  if (o.offline_timeout_ms !== undefined) server.push(`downinter ${o.offline_timeout_ms}ms`);
  if (o.server_maxconn) server.push(`maxconn ${o.server_maxconn}`);
  return { listen, server };
}

/**
 * Whether a listen section balances `first` (the last `balance` line wins, as in HAProxy:
 * the typed key or a `listen_options` line). Such a service keeps its servers in the order
 * the source declared them and gives each an explicit `id` in that order.
 */
export function balancesFirst(listenOptions: readonly string[]): boolean {
  let first = false;
  for (const line of listenOptions) {
    const m = /^\s*balance\s+(\S+)/.exec(line);
    if (m) first = m[1] === 'first';
  }
  return first;
}
