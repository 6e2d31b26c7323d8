import { z } from 'zod';
import type { Feature } from './feature';

/**
 * `fail_fast`: a server that refuses or drops a connection is marked down at once (not
 * after the health checks' `fall` failures), the request is retried once on another
 * server, and once every server is down each request is answered 503 without a connect
 * attempt. The checks bring a server back when it answers again.
 *
 * Measured on HAProxy 2.6 (docs/pooling-cache.md): with two servers on
 * closed ports, a service without it answers each request after 3 s (three retries one
 * second apart) until the checks have marked both servers down; with it, the first request
 * gets its 503 after at most one second (HAProxy waits min(1 s, timeout connect) before a
 * retry when no other server is left) and every later one at once.
 *
 * `on-marked-down shutdown-sessions` is left out on purpose: it also kills the request
 * whose failure marked the server down, which then gets no response at all instead of its
 * 503 or its retry on a healthy server.
 */
const failFast = z.boolean('must be true or false').optional();

export const failFastFeature: Feature = {
  keys: { fail_fast: failFast },
  problems: (o) =>
    // `attempts` sets `retries N` and `error-limit N` too: one key says how a failing server is taken out.
    o.fail_fast === true && o.attempts !== undefined ? ['fail_fast: not together with attempts (fail_fast takes a server out at its first failed connection; attempts after N)'] : [],
  compile(o) {
    if (o.fail_fast !== true) return {};
    // proxy-options.ts already adds `check` for these keys (attempts cannot be here).
    const checked = o.check !== undefined || o.offline_timeout_ms !== undefined;
    return {
      listen: ['option redispatch 1', 'retries 1'],
      server: [...(checked ? [] : ['check']), 'observe layer4 error-limit 1 on-error mark-down'],
    };
  },
};
