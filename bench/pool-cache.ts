/**
 * Issue 20's pooling, fail_fast and cache, each beside the same service without it, in
 * one run against a real HAProxy and real HTTP servers that count what reaches them:
 *
 * - pooling: new server connections per 1,000 client requests, each request on a new
 *   client connection (the pattern a pool is for);
 * - fail_fast: time to the error when every server of a service stops answering (their
 *   ports closed), the first request and the ones after it, over several services at once;
 * - cache: server requests for 1,000 identical cacheable GETs.
 *
 *   node .tmp/bench/bench/pool-cache.js      (BENCH_REQUESTS=1000, BENCH_TRIES=10; BENCH_QUICK=1: 200 and 4)
 */
import { AgentFixture } from '../test/support/agent';
import { getFresh, startCountingBackend, type CountingBackend } from '../test/support/counting-backend';
import { freePorts, waitUntil } from '../test/support/net';
import { RuntimeClient } from '../src/haproxy/runtime-client';
import { ms, pct, ratio, runAlone, size, table, type Bench } from './lib/report';

const REQUESTS = size('BENCH_REQUESTS', 1000, 200);
/** Services per fail_fast variant; each is one try at the first error. */
const SERVICES = size('BENCH_TRIES', 10, 4);
/** Requests after the first error, per service. */
const LATER = 5;

type Blob = Record<string, unknown>;
const service = (port: number, servers: number[], extra: Blob = {}): Blob => ({ type: 'static', port, mode: 'http', servers: servers.map((p) => `127.0.0.1:${p}`), ...extra });

async function withAgent<T>(services: Record<string, Blob>, fn: (agent: AgentFixture) => Promise<T>): Promise<T> {
  const agent = new AgentFixture({ services, logLevel: 'info', runtime: { drift_interval_ms: 0 } });
  try {
    await agent.start();
    return await fn(agent);
  } finally {
    await agent.cleanup();
  }
}

/** `n` GETs one after the other, each on a new client connection; wall time in ms. */
async function sequential(port: number, n: number): Promise<{ ms: number; bad: number }> {
  let bad = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if ((await getFresh(port, 30_000)).status !== 200) bad++;
  return { ms: performance.now() - t0, bad };
}

interface PoolRun {
  connections: number;
  ms: number;
}

async function pooling(): Promise<Record<string, PoolRun>> {
  const variants: Record<string, Blob> = { none: {}, safe: { pool: { reuse: 'safe' } }, aggressive: { pool: { reuse: 'aggressive' } }, always: { pool: {} } };
  const names = Object.keys(variants);
  const backends = await Promise.all(names.map(() => startCountingBackend()));
  const ports = await freePorts(names.length);
  try {
    return await withAgent(Object.fromEntries(names.map((n, i) => [n, service(ports[i], [backends[i].port], variants[n])])), async () => {
      const out: Record<string, PoolRun> = {};
      for (const [i, n] of names.entries()) {
        const r = await sequential(ports[i], REQUESTS);
        if (r.bad) throw new Error(`pool ${n}: ${r.bad} requests failed`);
        out[n] = { connections: backends[i].connections, ms: r.ms };
      }
      return out;
    });
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
}

interface FailRun {
  first: number[];
  later: number[];
}

/**
 * SERVICES services per variant, two servers each, all up and checked; then every server
 * stops and each service is asked LATER + 1 times in a row (the services in parallel).
 */
async function failing(): Promise<Record<string, FailRun>> {
  const variants: Record<string, Blob> = { fail_fast: { fail_fast: true }, plain: {}, checks: { check: {} } };
  const services: Record<string, Blob> = {};
  const ports = new Map<string, number>();
  const backends: CountingBackend[] = [];
  const front = await freePorts(SERVICES * Object.keys(variants).length);
  for (const [v, extra] of Object.entries(variants)) {
    for (let i = 0; i < SERVICES; i++) {
      const pair = [await startCountingBackend(), await startCountingBackend()];
      backends.push(...pair);
      const port = front.pop()!;
      ports.set(`${v}-${i}`, port);
      services[`${v}-${i}`] = service(port, pair.map((b) => b.port), extra);
    }
  }
  try {
    return await withAgent(services, async (agent) => {
      const rc = new RuntimeClient(agent.socketPath);
      // Up and answering first (checked services: their checks passed), as servers that then die.
      await waitUntil('every server up', async () => {
        const st = await rc.showServersState();
        return st.length === backends.length && st.every((s) => s.opState === 2);
      }, 60_000, 200);
      for (const port of ports.values()) if ((await getFresh(port)).status !== 200) throw new Error('a service did not answer before its servers stopped');
      await Promise.all(backends.splice(0).map((b) => b.close()));
      const out: Record<string, FailRun> = Object.fromEntries(Object.keys(variants).map((v) => [v, { first: [], later: [] }]));
      await Promise.all(
        [...ports].map(async ([name, port]) => {
          const run = out[name.slice(0, name.lastIndexOf('-'))];
          for (let k = 0; k <= LATER; k++) {
            const t = performance.now();
            const { status } = await getFresh(port, 60_000);
            if (status !== 503) throw new Error(`${name}: ${status}, not 503`);
            (k === 0 ? run.first : run.later).push(performance.now() - t);
          }
        }),
      );
      return out;
    });
  } finally {
    await Promise.all(backends.map((b) => b.close()));
  }
}

async function caching(): Promise<Record<'cache' | 'none', { requests: number; ms: number }>> {
  const [a, b] = [await startCountingBackend({ cacheControl: 'max-age=60' }), await startCountingBackend({ cacheControl: 'max-age=60' })];
  const [pa, pb] = await freePorts(2);
  try {
    return await withAgent({ cached: service(pa, [a.port], { cache: { size_mb: 16, max_age_s: 60 } }), none: service(pb, [b.port]) }, async () => {
      const ra = await sequential(pa, REQUESTS);
      const rb = await sequential(pb, REQUESTS);
      if (ra.bad || rb.bad) throw new Error(`cache: ${ra.bad + rb.bad} requests failed`);
      return { cache: { requests: a.requests, ms: ra.ms }, none: { requests: b.requests, ms: rb.ms } };
    });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function run(): Promise<string> {
  const pool = await pooling();
  const fail = await failing();
  const cache = await caching();
  const per1000 = (r: PoolRun) => ((r.connections * 1000) / REQUESTS).toFixed(0);
  const perReq = (r: { ms: number }) => ms(r.ms / REQUESTS);
  const rows: Array<Array<string | number>> = [];
  for (const v of ['always', 'aggressive', 'safe'] as const) {
    rows.push([`new server connections per 1,000 requests, pool reuse ${v}${v === 'always' ? ' (the default)' : ''}`, per1000(pool[v]), per1000(pool.none), ratio(pool[v].connections, pool.none.connections)]);
  }
  rows.push(['ms per request (new client connection each), pool reuse always', perReq(pool.always), perReq(pool.none), ratio(pool.always.ms, pool.none.ms)]);
  for (const [label, base] of [['no checks', fail.plain], ['health checks only (inter 2 s, fall 3)', fail.checks]] as const) {
    rows.push([`time to the first 503 once every server is gone, p50 / p95 (ms); baseline: ${label}`, `${ms(pct(fail.fail_fast.first, 50))} / ${ms(pct(fail.fail_fast.first, 95))}`, `${ms(pct(base.first, 50))} / ${ms(pct(base.first, 95))}`, ratio(pct(fail.fail_fast.first, 50), pct(base.first, 50))]);
    rows.push([`time to each of the next ${LATER} 503s, p50 / p95 (ms); baseline: ${label}`, `${ms(pct(fail.fail_fast.later, 50))} / ${ms(pct(fail.fail_fast.later, 95))}`, `${ms(pct(base.later, 50))} / ${ms(pct(base.later, 95))}`, ratio(pct(fail.fail_fast.later, 50), pct(base.later, 50))]);
  }
  rows.push([`server requests for ${REQUESTS.toLocaleString('en')} identical cacheable GETs`, cache.cache.requests, cache.none.requests, ratio(cache.cache.requests, cache.none.requests)]);
  rows.push(['ms per cacheable GET (new client connection each)', perReq(cache.cache), perReq(cache.none), ratio(cache.cache.ms, cache.none.ms)]);
  return [
    `Each figure beside the same service without the key, in one run. Pooling and cache: ${REQUESTS} GETs one after the other, each on a new client connection, to a Node HTTP server that keeps connections alive and counts them. fail_fast: ${SERVICES} services per column, two servers each, up and answering, then both servers' ports closed; each service asked ${LATER + 1} times in a row, the services at the same time (HAProxy's \`timeout connect 1s\`, default \`retries 3\`).`,
    '',
    table(['figure', 'with the key', 'without (baseline)', 'baseline / with'], rows),
  ].join('\n');
}

export const poolCache: Bench = { title: 'Pooling, fail_fast and the object cache, each against the same service without it (`bench/pool-cache.ts`)', run };

if (require.main === module) runAlone(poolCache);
