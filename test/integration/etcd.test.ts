import type { Etcd3 } from 'etcd3';
import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { TestEtcd } from '../support/etcd';
import { startLoad } from '../support/load';
import { freePort, sample, waitUntil } from '../support/net';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

// etcd as the service-config source and as a watcher, against a real etcd on 127.0.0.1.
describe('etcd source and watcher', () => {
  let etcd: TestEtcd;
  let ec: Etcd3;
  let backends: Backends;
  let agent: AgentFixture;

  beforeAll(async () => {
    etcd = await new TestEtcd().start();
    backends = await startBackends(4);
  });
  afterAll(async () => {
    await etcd.cleanup();
    await backends.close();
  });
  beforeEach(async () => {
    ec = etcd.client();
    await ec.delete().all();
  });
  afterEach(async () => {
    await agent?.cleanup();
    ec.close();
  });

  const ports = (servers: Array<{ port: number }>) => servers.map((s) => s.port).sort((a, b) => a - b);

  async function setup(extraYaml?: string): Promise<{ port: number; client: RuntimeClient }> {
    const port = await freePort();
    const [b1, b2] = backends.ports;
    await ec.put('/proxymgr/services/web').value(JSON.stringify({ type: 'etcd', endpoints: [etcd.endpoint], prefix: '/instances/web', port }));
    await ec.put('/instances/web/a').value(JSON.stringify({ address: '127.0.0.1', port: b1 }));
    await ec.put('/instances/web/b').value(`127.0.0.1:${b2}`);
    agent = new AgentFixture({ serviceConfig: { type: 'etcd', endpoints: etcd.endpoint, prefix: '/proxymgr/services' }, extraYaml });
    await agent.start();
    expect(await sample(port, 4)).toEqual(new Set([backends.id(b1), backends.id(b2)]));
    return { port, client: new RuntimeClient(agent.socketPath) };
  }

  test('instance churn under load: every change over the runtime API, 0 reloads, 0 failed requests', async () => {
    const { port, client } = await setup();
    const [b1, b2, b3, b4] = backends.ports;
    const from = agent.mark();
    const load = startLoad(port, 4, 60_000);
    const pool = [b1, b2, b3, b4];
    let want = new Set([b1, b2]);
    for (let i = 0; i < 40; i++) {
      const p = pool[i % pool.length];
      const key = `/instances/web/${p}`;
      // Never below one server: the load must always have somewhere to go.
      if (want.has(p) && want.size > 1) {
        if (p === b1) await ec.delete().key('/instances/web/a');
        else if (p === b2) await ec.delete().key('/instances/web/b');
        else await ec.delete().key(key);
        want.delete(p);
      } else if (!want.has(p)) {
        await ec.put(p === b1 ? '/instances/web/a' : p === b2 ? '/instances/web/b' : key).value(JSON.stringify({ address: '127.0.0.1', port: p }));
        want.add(p);
      }
      const expected = [...want].sort((a, b) => a - b);
      await waitUntil(`change ${i} to reach HAProxy`, async () => JSON.stringify(ports((await client.showServersState('web')).filter((s) => !s.maint))) === JSON.stringify(expected), 5000, 5);
    }
    want = new Set(want);
    const result = await load.stop();
    console.log(`etcd churn: 40 changes, requests ok ${result.ok}, failed ${result.failed}`);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(50);
    expect(agent.events('reload', from)).toHaveLength(0);
  });

  test('a lease that expires removes exactly its instance', async () => {
    const { client } = await setup();
    const [b1, b2, b3, b4] = backends.ports;
    const lease = ec.lease(2, { autoKeepAlive: false });
    await lease.put('/instances/web/leased').value(JSON.stringify({ address: '127.0.0.1', port: b3 }));
    await ec.put('/instances/web/kept').value(JSON.stringify({ address: '127.0.0.1', port: b4 }));
    await waitUntil('the leased instance to arrive', async () => ports(await client.showServersState('web')).includes(b3), 5000, 10);
    const t0 = Date.now();
    await waitUntil('the lease to expire', async () => !ports(await client.showServersState('web')).includes(b3), 10_000, 50);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(ports(await client.showServersState('web'))).toEqual([b1, b2, b4].sort((a, b) => a - b));
  });

  test('a service blob that is not valid JSON sets that service aside, naming it; the others serve', async () => {
    const { port } = await setup();
    const from = agent.mark();
    await ec.put('/proxymgr/services/broken').value('{"type": "etcd", ');
    const line = await agent.waitLog((l) => l.service === 'broken' && /JSON/.test(JSON.stringify(l)), 5000, from);
    expect(JSON.stringify(line)).toContain('etcd:/proxymgr/services/broken');
    expect((await sample(port, 2)).size).toBeGreaterThan(0);
  });

  test('/metrics: the etcd client is connected and the service\'s source is up', async () => {
    const apiPort = await freePort();
    await setup(`api:\n  listen: "127.0.0.1:${apiPort}"`);
    await agent.waitLog((l) => l.event === 'api_listening');
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    expect(text).toContain(`proxymgr_etcd_connected{cluster="${etcd.endpoint}"} 1`);
    expect(text).toContain('proxymgr_source_up{service="web",type="etcd"} 1');
  });
});
