import net from 'node:net';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { freePort, freePorts, get, waitUntil } from '../support/net';

// HAProxy is supervised: a crash is repaired at once, and the agent takes every HAProxy process with it when it stops.
describe('HAProxy supervision', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('kill -9 of HAProxy: serving again within 1 s', async () => {
    const port = await freePort();
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } } });
    await agent.start();
    for (let round = 0; round < 3; round++) {
      const pid = await agent.haproxyPid();
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      await waitUntil('HAProxy to serve again', () => get(port, 500).then(() => true, () => false), 1000, 5);
      const ms = Date.now() - t0;
      console.log(`round ${round}: serving again ${ms} ms after kill -9`);
      expect(ms).toBeLessThan(1000);
      expect(await agent.haproxyPid()).not.toBe(pid);
      await agent.waitLog((l) => l.event === 'haproxy_restart' && l.pid !== pid, 2000);
    }
    expect(agent.haproxyPids()).toHaveLength(1);
  });

  test('SIGTERM to the agent leaves no HAProxy process, old generations with open connections included', async () => {
    const [tcpPort, backendPort] = await freePorts(2);
    // A backend that accepts and holds connections: the process that owns them cannot finish on its own.
    const held: net.Socket[] = [];
    const sticky = net.createServer((s) => held.push(s)).listen(backendPort, '127.0.0.1');
    await new Promise((r) => sticky.once('listening', r));
    const svc = (gen: number) => ({ type: 'static', port: tcpPort, listen_options: ['mode tcp', `# generation ${gen}`], servers: [`127.0.0.1:${backendPort}`] });
    agent = new AgentFixture({ services: { tcp: svc(0) } });
    const clients: net.Socket[] = [];
    try {
      await agent.start();
      // Each generation gets a long-lived connection, then is replaced by a reload: old processes linger.
      for (let gen = 1; gen <= 3; gen++) {
        const c = net.connect(tcpPort, '127.0.0.1');
        c.on('error', () => undefined);
        clients.push(c);
        await waitUntil('backend to hold the connection', () => held.length === gen);
        const from = agent.mark();
        agent.writeService('tcp', { ...svc(gen), listen_options: ['mode tcp', `timeout client ${10 + gen}s`] });
        await agent.waitLog((l) => l.event === 'reload', 5000, from);
      }
      const before = agent.haproxyPids();
      expect(before.length).toBe(4);

      const t0 = Date.now();
      const code = await agent.stop('SIGTERM');
      console.log(`agent exited ${code} after ${Date.now() - t0} ms with ${before.length} HAProxy processes to stop`);
      expect(code).toBe(0);
      expect(agent.haproxyPids()).toEqual([]);
    } finally {
      for (const c of clients) c.destroy();
      for (const s of held) s.destroy();
      sticky.close();
    }
  });
});

describe('agent restart', () => {
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    backends = await startBackends(1);
  });
  afterAll(() => backends.close());
  afterEach(() => agent.cleanup());

  test('after kill -9 of the agent HAProxy keeps serving; a new agent takes it over without dropping a request', async () => {
    const { startLoad } = await import('../support/load');
    const port = await freePort();
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers: [`127.0.0.1:${backends.ports[0]}`] } } });
    await agent.start();
    const orphan = await agent.haproxyPid();
    const load = startLoad(port, 4, 30_000);
    await agent.stop('SIGKILL');
    expect(agent.haproxyPids()).toEqual([orphan]);
    await new Promise((r) => setTimeout(r, 200));

    const from = agent.mark();
    await agent.start();
    const adopt = await agent.waitLog((l) => l.event === 'haproxy_adopt', 1000, from);
    expect(adopt.pid).toBe(orphan);
    const started = await agent.waitLog((l) => l.event === 'start', 1000, from);
    expect(started.old_pid).toBe(orphan);
    await waitUntil('the adopted process to exit', () => !agent.haproxyPids().includes(orphan), 5000);
    await new Promise((r) => setTimeout(r, 200));
    const result = await load.stop();
    console.log(`takeover under load: ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)}`);
    expect(result.ok).toBeGreaterThan(100);
    expect(result.failed).toBe(0);
    expect(agent.haproxyPids()).toEqual([await agent.haproxyPid()]);
  });
});
