import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePort, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { parseStat } from '../../src/haproxy/state-parse';

/** Who served each of `n` requests, counted. */
async function tally(port: number, n: number): Promise<Map<string, number>> {
  const { get } = await import('../support/net');
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = (await get(port)).trim();
    out.set(who, (out.get(who) ?? 0) + 1);
  }
  return out;
}

// Typed service keys render to HAProxy and behave as HAProxy's own options do.
describe('typed service options with a real HAProxy', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(3);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('balance first with a health check: a dead first server is skipped once marked down; a server added at runtime gets the same checks', async () => {
    const [b1, b2, b3] = backends.ports;
    const [port, dead] = [await freePort(), await freePort()];
    const web = (servers: number[]) => ({
      type: 'static',
      port,
      mode: 'http',
      balance: 'first',
      check: { interval_ms: 100, rise: 1, fall: 1, http_path: '/', expect_status: 200 },
      attempts: 2,
      offline_timeout_ms: 500,
      servers: servers.map((p) => `127.0.0.1:${p}`),
    });
    agent = new AgentFixture({ services: { web: web([dead, b1]) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    const cfg = readFileSync(agent.configPath, 'utf8');
    expect(cfg).toMatch(/^ {4}balance first$/m);
    expect(cfg).toMatch(/^ {4}option httpchk GET \/$/m);
    expect(cfg).toMatch(/^ {4}http-check expect status 200$/m);
    expect(cfg).toMatch(/^ {4}retries 2$/m);
    expect(cfg).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${dead} 127\\.0\\.0\\.1:${dead} check inter 100ms rise 1 fall 1 observe layer4 error-limit 2 on-error mark-down downinter 500ms`));

    const rc = new RuntimeClient(agent.socketPath);
    await waitUntil('the dead server marked down', async () => (await rc.showServersState('web')).some((s) => s.port === dead && s.opState === 0), 5000);
    // first-alive: every request to the first server that is up.
    expect(await tally(port, 10)).toEqual(new Map([[backends.id(b1), 10]]));

    // A server added over the runtime API (no reload) is checked too: it stays out until its check passes, and `first` keeps using b1.
    const from = agent.mark();
    agent.writeService('web', web([dead, b1, b2, b3]));
    await waitUntil('the new servers in HAProxy', async () => (await rc.showServersState('web')).length === 4, 3000);
    expect(agent.events('reload', from)).toHaveLength(0);
    expect(await tally(port, 6)).toEqual(new Map([[backends.id(b1), 6]]));
    await waitUntil('the runtime-added server passing its HTTP check', async () => {
      const [{ output }] = await rc.batch(['show stat -1 4 -1']);
      return parseStat(output).some((r) => r.svname === `127.0.0.1:${b3}` && r.check_status === 'L7OK' && r.status === 'UP');
    }, 3000);
  });

  test('balance first follows the declared order (C, B, A), not the address order; a server added in the middle takes its place; a reorder reloads', async () => {
    const four = await startBackends(4);
    try {
      // A < B < C by port (and so by server name); the service lists them C, B, A; D comes later.
      const [pA, pB, pC] = [...four.ports.slice(0, 3)].sort((x, y) => x - y);
      const pD = four.ports[3];
      const port = await freePort();
      const name = (p: number) => `127.0.0.1:${p}`;
      const web = (ports: number[]) => ({ type: 'static', port, mode: 'http', balance: 'first', servers: ports.map(name) });
      agent = new AgentFixture({ services: { web: web([pC, pB, pA]) }, runtime: { drift_interval_ms: 0 } });
      await agent.start();
      await agent.waitLog((l) => l.event === 'runtime_swept' && l.trigger === 'after-reload');
      const lines = readFileSync(agent.configPath, 'utf8').split('\n').filter((l) => /^ {4}server /.test(l));
      expect(lines).toEqual([`    server ${name(pC)} ${name(pC)} id 10`, `    server ${name(pB)} ${name(pB)} id 20`, `    server ${name(pA)} ${name(pA)} id 30`]);

      // Every request to C while it is up, then to B.
      expect(await tally(port, 8)).toEqual(new Map([[four.id(pC), 8]]));
      const rc = new RuntimeClient(agent.socketPath);
      await rc.batch([`set server web/${name(pC)} state maint`]);
      expect(await tally(port, 8)).toEqual(new Map([[four.id(pB), 8]]));

      // D declared between C and B: added at runtime with an id between theirs (C comes back from maint too).
      let from = agent.mark();
      agent.writeService('web', web([pC, pD, pB, pA]));
      await agent.waitLog((l) => l.event === 'plan', 5000, from);
      const ids = new Map((await rc.showServersState('web')).map((s) => [s.name, s.id!]));
      expect(ids.get(name(pC))! < ids.get(name(pD))! && ids.get(name(pD))! < ids.get(name(pB))!).toBe(true);
      expect(agent.events('reload', from)).toHaveLength(0);
      expect(await tally(port, 4)).toEqual(new Map([[four.id(pC), 4]]));
      await rc.batch([`set server web/${name(pC)} state maint`]);
      expect(await tally(port, 8)).toEqual(new Map([[four.id(pD), 8]]));

      // Running servers in another order cannot be had at runtime: a reload, with the reason logged.
      from = agent.mark();
      agent.writeService('web', web([pA, pD, pB, pC]));
      const reload = await agent.waitLog((l) => l.event === 'reload', 5000, from);
      expect(String(reload.reason)).toContain('server order changed for balance first');
      await waitUntil('A serves first after the reload', async () => (await tally(port, 1)).has(four.id(pA)), 3000);
      expect(await tally(port, 8)).toEqual(new Map([[four.id(pA), 8]]));
    } finally {
      await four.close();
    }
  });

  test('leastconn sends new connections to the server with fewer open ones', async () => {
    const [b1, b2] = backends.ports;
    const port = await freePort();
    const servers = [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`];
    agent = new AgentFixture({
      services: { web: { type: 'static', port, mode: 'tcp', balance: 'leastconn', timeouts: { client_ms: 20_000, server_ms: 20_000 }, servers } },
      runtime: { drift_interval_ms: 0 },
    });
    await agent.start();
    // The agent checks HAProxy's servers right after it starts; a hand-made change before
    // that check is drift, and the check would put it back.
    await agent.waitLog((l) => l.event === 'runtime_swept' && l.trigger === 'after-reload');
    const rc = new RuntimeClient(agent.socketPath);
    // Hold 4 connections on b1 (b2 briefly out), then let b2 back in.
    await rc.batch([`set server web/127.0.0.1:${b2} state maint`]);
    const held: Socket[] = [];
    for (let i = 0; i < 4; i++) held.push(await new Promise<Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => resolve(s)); }));
    await waitUntil('4 sessions on b1', async () => {
      const [{ output }] = await rc.batch(['show stat -1 4 -1']);
      return new RegExp(`^web,127\\.0\\.0\\.1:${b1},0,0,4,`, 'm').test(output);
    }, 3000);
    await rc.batch([`set server web/127.0.0.1:${b2} state ready`]);
    try {
      // Round robin would split these; leastconn sends every one to the idle server.
      expect(await tally(port, 8)).toEqual(new Map([[backends.id(b2), 8]]));
    } finally {
      for (const s of held) s.destroy();
    }
    await waitUntil('b1 back in use', async () => (await sample(port, 6)).size === 2, 3000);
  });

  test('backup servers take traffic only when no other is up; a new backup server is added at runtime; flipping the flag reloads', async () => {
    const [b1, b2, b3] = backends.ports;
    const port = await freePort();
    const blob = (servers: unknown[]) => ({ type: 'static', port, mode: 'http', servers });
    agent = new AgentFixture({ services: { web: blob([`127.0.0.1:${b1}`, { address: '127.0.0.1', port: b2, backup: true }]) }, runtime: { drift_interval_ms: 0 } });
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${b2} 127\\.0\\.0\\.1:${b2} backup$`, 'm'));
    expect(await tally(port, 6)).toEqual(new Map([[backends.id(b1), 6]]));

    const rc = new RuntimeClient(agent.socketPath);
    const bck = async (p: number) => {
      const [{ output }] = await rc.batch(['show stat -1 4 -1']);
      return parseStat(output).find((r) => r.svname === `127.0.0.1:${p}`)?.bck;
    };
    let from = agent.mark();
    agent.writeService('web', blob([`127.0.0.1:${b1}`, { address: '127.0.0.1', port: b2, backup: true }, { address: '127.0.0.1', port: b3, backup: true }]));
    await waitUntil('b3 added as a backup', async () => (await bck(b3)) === '1', 3000);
    expect(agent.events('reload', from)).toHaveLength(0);

    // With the only active server in maint, the backups serve.
    await rc.batch([`set server web/127.0.0.1:${b1} state maint`]);
    expect([...(await tally(port, 6)).keys()].every((k) => k === backends.id(b2) || k === backends.id(b3))).toBe(true);
    await rc.batch([`set server web/127.0.0.1:${b1} state ready`]);

    from = agent.mark();
    agent.writeService('web', blob([`127.0.0.1:${b1}`, `127.0.0.1:${b2}`, { address: '127.0.0.1', port: b3, backup: true }]));
    const reload = await agent.waitLog((l) => l.event === 'reload', 5000, from);
    expect(String(reload.reason)).toMatch(/backup flag changed for 127\.0\.0\.1:\d+/);
    expect(await bck(b2)).toBe('0');
    await waitUntil('b1 and b2 share the traffic', async () => (await sample(port, 8)).size === 2, 3000);
  });
});
