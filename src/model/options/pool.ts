import { z } from 'zod';
import { needsHttp, type Feature } from './feature';

/**
 * Connections to the servers kept open and shared by many clients (`pool`).
 *
 * HAProxy keeps idle server connections in HTTP mode by default, but which of them a
 * client's first request may take depends on `http-reuse` (measured on 2.6, bench/pool-cache.ts):
 * `safe` (HAProxy's default) never gives it an idle connection, and `aggressive` only one
 * HAProxy has seen reused already, which clients making one request per connection never
 * bring about: behind another proxy, or with short-lived clients, each request still
 * cost the server one new TCP connection with either. So `pool` means `always` unless told otherwise: any idle
 * connection serves any client, and 1,000 such requests cost the server about ten.
 */
const pool = z
  .strictObject({
    reuse: z.enum(['safe', 'aggressive', 'always'], 'must be safe, aggressive or always').optional(),
    /** Idle connections kept per server (and per thread); unset: no limit. */
    max_conn: z.int('must be an integer').min(1, 'must be 1..100000').max(100_000, 'must be 1..100000').optional(),
    /** Every this many ms, half of a server's idle connections above the recent need are closed. */
    idle_timeout_ms: z.int('must be an integer (milliseconds)').min(1, 'must be at least 1 ms').max(3_600_000, 'must be at most an hour').optional(),
  })
  .optional();

export const poolFeature: Feature = {
  keys: { pool },
  problems: (o) => needsHttp(o, 'pool'),
  compile(o) {
    const p = o.pool as z.infer<typeof pool>;
    if (!p) return {};
    const server: string[] = [];
    if (p.max_conn !== undefined) server.push(`pool-max-conn ${p.max_conn}`);
    if (p.idle_timeout_ms !== undefined) server.push(`pool-purge-delay ${p.idle_timeout_ms}ms`);
    // Keep-alive on both sides: a `defaults` line closing server connections
    // (`option http-server-close`, `option httpclose`) would leave nothing to pool.
    return { listen: [`http-reuse ${p.reuse ?? 'always'}`, 'option http-keep-alive'], server };
  },
};
