import { z } from 'zod';
import { needsHttp, type Feature } from './feature';

/**
 * Connections to the servers kept open and shared by many clients (`pool`).
 *
 * HAProxy keeps idle server connections in HTTP mode by default, but its default reuse
 * policy (`safe`) never sends the first request of a client connection over one of them:
 * clients that make one request per connection (the common case behind another proxy or
 * with short-lived clients) still cost the server one new TCP connection each. `pool`
 * turns sharing on: `aggressive` (the default here) hands a new client an idle connection
 * the server has already kept alive once; `always` hands it any idle connection; `safe`
 * keeps HAProxy's default and only sets the pool's size and purge delay.
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
    return { listen: [`http-reuse ${p.reuse ?? 'aggressive'}`, 'option http-keep-alive'], server };
  },
};
