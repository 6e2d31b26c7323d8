import http from 'node:http';
import { AgentFixture } from '../support/agent';
import { startLoad } from '../support/load';
import { freePort, freePorts, get, isListening, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import type { ActualServer } from '../../src/model/actual';

/** Backends that count the requests they serve, by port. */
async function countingBackends(n: number) {
  const hits = new Map<number, number>();
  const servers: http.Server[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    hits.set(port, 0);
    const srv = http.createServer((_req, res) => {
      hits.set(port, hits.get(port)! + 1);
      res.setHeader('connection', 'close');
      res.end(`b${port}\n`);
    });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    servers.push(srv);
  }
  return {
    ports: [...hits.keys()],
    hits,
    close: () => Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r))))),
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

describe('membership, weight and drain changes go over the runtime API', () => {
  test('add 50, remove 50, change weights, re-add: 0 reloads, 0 failed requests, each change in HAProxy within 100 ms', async () => {
    const backends = await countingBackends(51);
    const [base, ...extra] = backends.ports;
    const port = await freePort();
    const blob = (servers: Array<string | { address: string; port: number; weight: number }>) => ({ type: 'static', port, servers });
    const agent = new AgentFixture({ services: { web: blob([`127.0.0.1:${base}`]) } });
    const client = new RuntimeClient(agent.socketPath);
    const latencies: number[] = [];
    const agentSide: number[] = [];
    // Writes the list, then waits until `show servers state` shows exactly what was asked.
    const apply = async (servers: Array<{ port: number; weight: number }>) => {
      const t0 = performance.now();
      const wall = Date.now();
      const mark = agent.mark();
      agent.writeService('web', blob(servers.map((s) => ({ address: '127.0.0.1', port: s.port, weight: s.weight }))));
      const want = servers.map((s) => `127.0.0.1:${s.port}/${s.weight}`).sort().join(' ');
      const seen = (st: ActualServer[]) =>
        st.filter((s) => !s.maint).map((s) => `${s.address}:${s.port}/${s.weight}`).sort().join(' ');
      await waitUntil('HAProxy to show the new servers', async () => seen(await client.showServersState('web')) === want, 5000, 1);
      latencies.push(performance.now() - t0);
      const plan = await agent.waitLog((l) => l.event === 'plan', 2000, mark);
      agentSide.push(Date.parse(plan.time as string) - wall);
    };
    try {
      await agent.start();
      const pid = await agent.haproxyPid();
      const from = agent.mark();
      const load = startLoad(port, 6, 120_000);
      let current = [{ port: base, weight: 1 }];

      for (const p of extra) await apply((current = [...current, { port: p, weight: 1 }]));
      const hitsAfterAdd = new Map(backends.hits);
      await new Promise((r) => setTimeout(r, 300));
      const servedByNew = extra.filter((p) => backends.hits.get(p)! > hitsAfterAdd.get(p)!).length;

      for (const p of extra) await apply((current = current.filter((s) => s.port !== p)));
      await new Promise((r) => setTimeout(r, 100));
      const afterRemove = new Map(backends.hits);
      await new Promise((r) => setTimeout(r, 300));
      const servedAfterRemoval = extra.reduce((n, p) => n + backends.hits.get(p)! - afterRemove.get(p)!, 0);

      await apply((current = [{ port: base, weight: 1 }, { port: extra[0], weight: 3 }]));
      const beforeWeights = new Map(backends.hits);
      await new Promise((r) => setTimeout(r, 500));
      const ratio = (backends.hits.get(extra[0])! - beforeWeights.get(extra[0])!) / Math.max(1, backends.hits.get(base)! - beforeWeights.get(base)!);
      await apply((current = [{ port: base, weight: 1 }, { port: extra[0], weight: 1 }]));

      for (const p of extra.slice(1)) await apply((current = [...current, { port: p, weight: 1 }]));
      const result = await load.stop();

      const reloads = agent.events('reload', from).length;
      console.log(
        `runtime churn: ${latencies.length} changes, write->HAProxy p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ` +
          `reloads ${reloads}; requests ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)}; ` +
          `agent-side write->plan logged p50 ${pct(agentSide, 50)} ms p99 ${pct(agentSide, 99)} ms; new servers serving ${servedByNew}/50; requests to removed servers ${servedAfterRemoval}; weight 3:1 ratio ${ratio.toFixed(2)}`,
      );
      expect(reloads).toBe(0);
      expect(await agent.haproxyPid()).toBe(pid);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(1000);
      expect(servedByNew).toBeGreaterThanOrEqual(45);
      expect(servedAfterRemoval).toBe(0);
      expect(ratio).toBeGreaterThan(2);
      expect(ratio).toBeLessThan(4.5);
      expect(pct(latencies, 50)).toBeLessThan(100);
      expect(pct(latencies, 95)).toBeLessThan(100);
      // The file on disk holds every server, so a reload or a crash restart reproduces them.
      const servers = () => ((require('node:fs').readFileSync(agent.configPath, 'utf8') as string).match(/^ {4}server /gm) ?? []).length;
      await waitUntil('the config file to hold every server', () => servers() === 51, 2000);
    } finally {
      await agent.cleanup();
      await backends.close();
    }
  });

  test('with drain_ms, a removed server drains first and is deleted when the drain ends; one back before then returns', async () => {
    const backends = await countingBackends(3);
    const [a, b, c] = backends.ports;
    const port = await freePort();
    const blob = (ports: number[]) => ({ type: 'static', port, servers: ports.map((p) => `127.0.0.1:${p}`) });
    const agent = new AgentFixture({ services: { web: blob([a, b, c]) }, runtime: { drain_ms: 1500, drift_interval_ms: 300 } });
    const rc = new RuntimeClient(agent.socketPath);
    const state = async () => new Map((await rc.showServersState('web')).map((s) => [s.port, s.maint ? 'maint' : s.drain ? 'drain' : 'ready']));
    try {
      await agent.start();
      const pid = await agent.haproxyPid();
      let from = agent.mark();
      agent.writeService('web', blob([a]));
      const plan = await agent.waitLog((l) => l.event === 'plan', 5000, from);
      const changes = plan.changes as Array<{ service: string; removed: string[] }>;
      expect(changes.map((ch) => ({ ...ch, removed: [...ch.removed].sort() }))).toEqual([{ service: 'web', removed: [`127.0.0.1:${b}`, `127.0.0.1:${c}`].sort() }]);
      expect(await state()).toEqual(new Map([[a, 'ready'], [b, 'drain'], [c, 'drain']]));
      // New requests go to the server that stays only.
      const before = new Map(backends.hits);
      for (let i = 0; i < 6; i++) await get(port);
      expect([b, c].map((p) => backends.hits.get(p)! - before.get(p)!)).toEqual([0, 0]);

      // c comes back while draining: set ready again, never deleted.
      agent.writeService('web', blob([a, c]));
      const back = await agent.waitLog((l) => l.event === 'plan' && JSON.stringify(l.changes).includes('returning'), 5000, from);
      expect(back.changes).toEqual([{ service: 'web', returning: [`127.0.0.1:${c}`] }]);

      // b is deleted once its drain is over, in a pass that says so; drift passes in the meantime find no drift.
      const done = await agent.waitLog((l) => l.event === 'deferred_delete', 5000, from);
      expect(done.deleted).toEqual([`web/127.0.0.1:${b}`]);
      expect(Date.parse(done.time as string) - Date.parse(plan.time as string)).toBeGreaterThanOrEqual(1400);
      expect(await state()).toEqual(new Map([[a, 'ready'], [c, 'ready']]));
      expect(agent.events('drift_repaired', from)).toHaveLength(0);
      expect(agent.events('reload', from)).toHaveLength(0);
      expect(await agent.haproxyPid()).toBe(pid);

      // c removed again: a fresh drain, then the delete.
      from = agent.mark();
      agent.writeService('web', blob([a]));
      expect((await agent.waitLog((l) => l.event === 'deferred_delete', 5000, from)).deleted).toEqual([`web/127.0.0.1:${c}`]);
    } finally {
      await agent.cleanup();
      await backends.close();
    }
  });

  test('a new service costs exactly one reload; 100 changes in 1 s with 10 new services cost at most 2', async () => {
    const backends = await countingBackends(4);
    const ports = await freePorts(14);
    const svc = (port: number, n: number) => ({ type: 'static', port, servers: backends.ports.slice(0, n).map((p) => `127.0.0.1:${p}`) });
    // The product's reload timing: quiet 100 ms, at most 1 s, 1 s apart plus jitter.
    const agent = new AgentFixture({
      services: { a: svc(ports[0], 1), b: svc(ports[1], 1), c: svc(ports[2], 1) },
      reload: { quiet_ms: 100, max_wait_ms: 1000, min_interval_ms: 1000 },
    });
    try {
      await agent.start();
      let from = agent.mark();
      agent.writeService('first', svc(ports[3], 2));
      await waitUntil('the new service to listen', () => isListening(ports[3]), 5000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(agent.events('reload', from).map((l) => l.reason)).toEqual(['added: first']);

      from = agent.mark();
      const t0 = Date.now();
      const newNames: string[] = [];
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 9) {
          const name = `new${newNames.length}`;
          agent.writeService(name, svc(ports[4 + newNames.length], 1 + (i % 4)));
          newNames.push(name);
        } else {
          agent.writeService('abc'[i % 3], svc(ports[i % 3], 1 + (i % 4)));
        }
        await new Promise((r) => setTimeout(r, 9));
      }
      const spent = Date.now() - t0;
      for (let k = 0; k < newNames.length; k++) await waitUntil(`${newNames[k]} to listen`, () => isListening(ports[4 + k]), 8000);
      await new Promise((r) => setTimeout(r, 2500));
      const reloads = agent.events('reload', from);
      console.log(`100 changes in ${spent} ms with 10 new services: ${reloads.length} reloads: ${reloads.map((l) => l.reason).join(' | ')}`);
      expect(reloads.length).toBeLessThanOrEqual(2);
      expect(reloads.length).toBeGreaterThanOrEqual(1);
      for (const k of [0, 5, 9]) expect((await get(ports[4 + k])).trim()).toMatch(/^b\d+$/);
    } finally {
      await agent.cleanup();
      await backends.close();
    }
  });
});
