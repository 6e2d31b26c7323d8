import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { startCountingBackend, getFresh, type CountingBackend } from '../support/counting-backend';
import { freePorts, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { parseStat } from '../../src/haproxy/state-parse';

/**
 * Connect attempts that failed so far: the servers' connection errors and the retries.
 * (The BACKEND row's econ also counts the requests refused for want of a server.)
 */
async function attempts(rc: RuntimeClient, service: string): Promise<{ econ: number; wretr: number }> {
  const [{ output }] = await rc.batch([`show stat ${service} 6 -1`]);
  const rows = parseStat(output).filter((r) => r.pxname === service);
  const econ = rows.filter((r) => r.svname !== 'BACKEND').reduce((n, r) => n + Number(r.econ), 0);
  return { econ, wretr: Number(rows.find((r) => r.svname === 'BACKEND')?.wretr ?? NaN) };
}

/** `promtool check metrics` on a text: exit code and what it said. */
function promtool(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin!.end(text);
  });
}

async function statuses(n: number, port: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await getFresh(port, 30_000)).status);
  return out;
}

// Issue 20: connections to the servers pooled across clients, servers that refuse
// connections taken out at once, and an object cache, each against HAProxy without it.
describe('pool, fail_fast and cache with a real HAProxy', () => {
  let agent: AgentFixture;
  const backends: CountingBackend[] = [];
  afterEach(async () => {
    await agent?.cleanup();
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  test('pool: 200 requests, each on a new client connection, cost the server a few connections; without it, one each. A server added at runtime takes the pool tokens', async () => {
    const [pooled, plain] = [await startCountingBackend(), await startCountingBackend()];
    backends.push(pooled, plain);
    const [pPort, nPort] = await freePorts(2);
    // No `reuse`: the default is the one that shares connections between clients.
    const pool = { max_conn: 50, idle_timeout_ms: 30_000 };
    const blob = (port: number, servers: number[], extra = {}) => ({ type: 'static', port, mode: 'http', servers: servers.map((p) => `127.0.0.1:${p}`), ...extra });
    agent = new AgentFixture({ services: { pooled: blob(pPort, [pooled.port], { pool }), plain: blob(nPort, [plain.port]) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(/^ {4}http-reuse always$/m);
    expect(cfg).toMatch(/^ {4}option http-keep-alive$/m);
    expect(cfg).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${pooled.port} 127\\.0\\.0\\.1:${pooled.port} pool-max-conn 50 pool-purge-delay 30000ms$`, 'm'));

    const N = 200;
    expect(await statuses(N, pPort)).toEqual(Array(N).fill(200));
    expect(await statuses(N, nPort)).toEqual(Array(N).fill(200));
    expect([pooled.requests, plain.requests]).toEqual([N, N]);
    // HAProxy's default (`http-reuse safe`) never gives a client's first request an idle connection.
    expect(plain.connections).toBe(N);
    expect(pooled.connections).toBeLessThanOrEqual(N / 20);

    // `add server` (no reload) accepts the pool's tokens: the new server gets requests.
    const extra = await startCountingBackend();
    backends.push(extra);
    const rc = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    agent.writeService('pooled', blob(pPort, [pooled.port, extra.port], { pool }));
    await waitUntil('the added server in HAProxy', async () => (await rc.showServersState('pooled')).some((s) => s.port === extra.port && !s.maint), 10_000);
    expect(agent.events('reload', from)).toHaveLength(0);
    await statuses(20, pPort);
    expect(extra.requests).toBeGreaterThan(0);
    expect(extra.connections).toBeLessThanOrEqual(2);
  });

  test('fail_fast: servers that refuse connections are marked down at once and later requests get a 503 with no connect attempt; without it every request retries', async () => {
    const dead = await freePorts(3);
    const [fPort, nPort] = await freePorts(2);
    const blob = (port: number, servers: number[], extra = {}) => ({ type: 'static', port, mode: 'http', servers: servers.map((p) => `127.0.0.1:${p}`), ...extra });
    // Checks once a minute: only the failed connections can mark the servers down here.
    const ff = (servers: number[]) => blob(fPort, servers, { fail_fast: true, check: { interval_ms: 60_000 } });
    agent = new AgentFixture({ services: { fast: ff(dead.slice(0, 2)), plain: blob(nPort, dead.slice(0, 2)) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(/^ {4}option redispatch 1\n {4}retries 1$/m);
    expect(cfg).toMatch(/check inter 60000ms observe layer4 error-limit 1 on-error mark-down$/m);
    const rc = new RuntimeClient(agent.socketPath);

    // The first request or two find each server dead (a retry goes to the other one).
    const t0 = Date.now();
    const firstStatuses: number[] = [];
    await waitUntil('both servers marked down by failed connections', async () => {
      firstStatuses.push((await getFresh(fPort, 30_000)).status);
      return (await rc.showServersState('fast')).every((s) => s.opState === 0);
    }, 30_000, 0);
    const toDown = Date.now() - t0;
    expect(firstStatuses.every((s) => s === 503)).toBe(true);
    expect(firstStatuses.length).toBeLessThanOrEqual(2);

    // Every server down: HAProxy answers at once, trying no connection (the counters stand still).
    const before = await attempts(rc, 'fast');
    const t1 = Date.now();
    expect(await statuses(20, fPort)).toEqual(Array(20).fill(503));
    const twentyMs = Date.now() - t1;
    expect(await attempts(rc, 'fast')).toEqual(before);

    // The same service without it: each request tries to connect and retries (3 retries, HAProxy's default).
    const base0 = await attempts(rc, 'plain');
    const t2 = Date.now();
    expect(await statuses(2, nPort)).toEqual([503, 503]);
    const plainMs = Date.now() - t2;
    const base1 = await attempts(rc, 'plain');
    expect(base1.econ - base0.econ).toBe(2);
    expect(base1.wretr - base0.wretr).toBe(6);
    console.log(`fail_fast: both down after ${firstStatuses.length} request(s), ${toDown} ms; 20 more 503s in ${twentyMs} ms; without: 2 requests in ${plainMs} ms`);

    // `add server` (no reload) accepts the fail_fast tokens, and a dead server added so is marked down by the next request that meets it.
    const from = agent.mark();
    agent.writeService('fast', ff(dead));
    await waitUntil('the added server in HAProxy', async () => (await rc.showServersState('fast')).some((s) => s.port === dead[2] && !s.maint && s.opState !== 0), 10_000);
    expect(agent.events('reload', from)).toHaveLength(0);
    await waitUntil('the added server marked down by a failed connection', async () => {
      await getFresh(fPort, 30_000);
      return (await rc.showServersState('fast')).every((s) => s.opState === 0);
    }, 30_000, 0);
  });

  test('cache: 1,000 identical cacheable GETs reach the server once; lookups and hits in /api/services and /metrics; a service name longer than a cache name', async () => {
    const origin = await startCountingBackend({ cacheControl: 'max-age=60' });
    const uncached = await startCountingBackend({ cacheControl: 'max-age=60' });
    backends.push(origin, uncached);
    const [cPort, nPort, apiPort] = await freePorts(3);
    // 60 characters: the cache section gets a shortened name of 32.
    const name = `catalog-${'x'.repeat(44)}-images`;
    const blob = (port: number, server: number, extra = {}) => ({ type: 'static', port, mode: 'http', servers: [`127.0.0.1:${server}`], ...extra });
    agent = new AgentFixture({
      services: { [name]: blob(cPort, origin.port, { cache: { size_mb: 4, max_age_s: 60, max_object_kb: 64 } }), plain: blob(nPort, uncached.port) },
      extraYaml: `api:\n  listen: "127.0.0.1:${apiPort}"`,
    });
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    const cfg = readFileSync(agent.configPath, 'utf8');
    const cacheName = /^cache (\S+)$/m.exec(cfg)?.[1] ?? '';
    expect(cacheName.length).toBeLessThanOrEqual(32);
    expect(cacheName.startsWith('catalog-')).toBe(true);
    expect(cfg).toContain(`    http-request cache-use ${cacheName}\n    http-response cache-store ${cacheName}\n`);
    expect(cfg).toContain(`cache ${cacheName}\n    total-max-size 4\n    max-age 60\n    max-object-size 65536\n`);

    const N = 1000;
    const ok = async (port: number) => {
      const codes = await statuses(N, port);
      expect(codes.filter((c) => c !== 200)).toEqual([]);
    };
    await ok(cPort);
    await ok(nPort);
    expect(origin.requests).toBeLessThanOrEqual(2);
    expect(uncached.requests).toBe(N);

    // A reading may be served stale while HAProxy is slow to answer (a loaded machine): wait for a fresh one.
    type View = Array<{ name: string; cache?: { lookups: number; hits: number; misses: number } }>;
    let services: View = [];
    await waitUntil('the lookups in /api/services', async () => {
      services = (await (await fetch(`http://127.0.0.1:${apiPort}/api/services`)).json()) as View;
      return services.find((s) => s.name === name)?.cache?.lookups === N;
    }, 20_000, 200);
    const svc = services.find((s) => s.name === name);
    expect(svc?.cache?.lookups).toBe(N);
    expect(svc?.cache?.hits).toBe(N - origin.requests);
    expect(svc?.cache?.misses).toBe(origin.requests);
    expect(services.find((s) => s.name === 'plain')).not.toHaveProperty('cache');

    let text = '';
    await waitUntil('the lookups in /metrics', async () => {
      text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
      return text.includes(`proxymgr_haproxy_service_cache_lookups_total{service="${name}"} ${N}\n`);
    }, 20_000, 200);
    expect(text).toMatch(/^# TYPE proxymgr_haproxy_service_cache_lookups_total counter$/m);
    expect(text).toContain(`proxymgr_haproxy_service_cache_lookups_total{service="${name}"} ${N}\n`);
    expect(text).toContain(`proxymgr_haproxy_service_cache_hits_total{service="${name}"} ${N - origin.requests}\n`);
    expect(text).not.toMatch(/cache_lookups_total\{service="plain"\}/);
    expect(await promtool(text)).toEqual({ code: 0, out: '' });
  });
});
