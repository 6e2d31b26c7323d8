import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePort, sample, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

const OUTAGE_MS = Number(process.env.ZK_OUTAGE_MS ?? 60_000);

// ZooKeeper going away must never take a backend with it.
describe('ZooKeeper outages', () => {
  let zk: TestZooKeeper;
  let backends: Backends;
  let agent: AgentFixture;
  let zc: ZkTestClient;

  beforeEach(async () => {
    zk = await new TestZooKeeper().start();
    zc = await zk.client();
    backends = await startBackends(3);
  });
  afterEach(async () => {
    zc.close();
    await agent.cleanup();
    await zk.cleanup();
    await backends.close();
  });

  async function setup(extraYaml?: string) {
    const port = await freePort();
    const [b1, b2, b3] = backends.ports;
    await zc.put('/svc/web', { type: 'zookeeper', server: zk.connectString, path: '/inst/web', port });
    await zc.put('/inst/web/a', { address: '127.0.0.1', port: b1 });
    await zc.put('/inst/web/b', { address: '127.0.0.1', port: b2 });
    agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: zk.connectString, path: '/svc' }, extraYaml });
    await agent.start();
    // The API listens once HAProxy has started: the `start` line can come first.
    if (extraYaml?.includes('api:')) await agent.waitLog((l) => l.event === 'api_listening');
    expect(await sample(port, 4)).toEqual(new Set([backends.id(b1), backends.id(b2)]));
    return { port, b1, b2, b3 };
  }

  test(`ZooKeeper down for ${OUTAGE_MS / 1000} s under load: 0 failed requests, 0 servers removed; changes after it returns arrive within 2 s`, async () => {
    const apiPort = await freePort();
    const { port, b3 } = await setup(`api:\n  listen: "127.0.0.1:${apiPort}"\nstatus:\n  source_grace_ms: 2000`);
    const status = async () => (await (await fetch(`http://127.0.0.1:${apiPort}/status`, { headers: { accept: 'application/json' } })).json()) as { good: boolean; errors: Array<{ service?: string; problem: string }>; warnings: unknown[] };
    expect((await status()).good).toBe(true);
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const load = startLoad(port, 4, OUTAGE_MS + 30_000);
    zc.close();
    await zk.stop();
    let minServers = Infinity;
    let sawWarning = false;
    const t0 = Date.now();
    while (Date.now() - t0 < OUTAGE_MS) {
      minServers = Math.min(minServers, (await client.showServersState('web')).filter((s) => !s.maint).length);
      if (Date.now() - t0 < 1500) sawWarning ||= (await status()).warnings.length > 0;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Within the grace period a warning; beyond it, the source and the service config are errors.
    expect(sawWarning).toBe(true);
    const down = await status();
    expect(down.good).toBe(false);
    expect(down.errors.map((e) => e.service ?? 'agent').sort()).toEqual(['agent', 'web']);
    expect(down.errors.map((e) => e.problem).join('\n')).toMatch(/disconnected/);
    await zk.start();
    zc = await zk.client();
    const t1 = Date.now();
    await zc.put('/inst/web/c', { address: '127.0.0.1', port: b3 });
    await waitUntil('the new instance to reach HAProxy', async () => (await client.showServersState('web')).length === 3, 10_000, 5);
    const arrivedMs = Date.now() - t1;
    await waitUntil('/status good again', async () => (await status()).good, 5000);
    // The return is said once, with how long the source was bad.
    const recovered = agent.events('source_recovered').filter((l) => l.service === 'web');
    expect(recovered).toHaveLength(1);
    expect(recovered[0].bad_ms).toBeGreaterThanOrEqual(OUTAGE_MS / 2);
    expect(String(recovered[0].error)).toMatch(/disconnected/);
    const result = await load.stop();
    console.log(`ZooKeeper down ${OUTAGE_MS} ms: requests ok ${result.ok}, failed ${result.failed}; fewest servers seen ${minServers}; change after return arrived in ${arrivedMs} ms`);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    expect(minServers).toBe(2);
    // Usually tens of ms; a reconnect caught by the restarting server's unanswered handshake is cut after 1 s.
    expect(arrivedMs).toBeLessThan(2000);
    expect(agent.events('reload', from)).toHaveLength(0);
  }, OUTAGE_MS + 45_000);

  test('a session expiry (agent frozen past the session timeout): servers kept, session replaced, changes flow again', async () => {
    const { port, b1, b3 } = await setup();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    // SIGSTOP freezes the agent: ZooKeeper expires its session while HAProxy keeps serving.
    agent.proc!.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 13_000));
    await zc.remove('/inst/web/a');
    agent.proc!.kill('SIGCONT');
    await agent.waitLog((l) => l.event === 'zk_session_replaced', 15_000, from);
    await waitUntil('the removal made during the expiry to arrive', async () => !(await client.showServersState('web')).some((s) => s.port === b1), 10_000, 10);
    await zc.put('/inst/web/c', { address: '127.0.0.1', port: b3 });
    await waitUntil('a new instance to arrive on the new session', async () => (await client.showServersState('web')).some((s) => s.port === b3), 5000, 10);
    expect((await sample(port, 6)).has(backends.id(b3))).toBe(true);
  });
});
