import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePorts, get, isListening, sample, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

// Services and their instances registered in a real ZooKeeper 3.8 reach HAProxy.
describe('ZooKeeper service config and watcher', () => {
  let zk: TestZooKeeper;
  let zc: ZkTestClient;
  let backends: Backends;
  let agent: AgentFixture;

  beforeAll(async () => {
    zk = await new TestZooKeeper().start();
    zc = await zk.client();
    backends = await startBackends(3);
  });
  afterAll(async () => {
    zc.close();
    await zk.cleanup();
    await backends.close();
  });
  afterEach(() => agent.cleanup());

  test('services appear, change and vanish; instance churn costs no reload; a bad znode is reported by name', async () => {
    const [b1, b2, b3] = backends.ports;
    const [webPort, apiPort] = await freePorts(2);
    const root = `/t${Date.now()}`;
    await zc.put(`${root}/services/web`, { type: 'zookeeper', server: zk.connectString, path: `${root}/instances/web`, port: webPort });
    await zc.put(`${root}/instances/web/i1`, { address: '127.0.0.1', port: b1 });
    agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: zk.connectString, path: `${root}/services` } });
    await agent.start();
    expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
    const pid = await agent.haproxyPid();
    let from = agent.mark();

    // Instance churn under load, in the three formats: runtime only.
    const load = startLoad(webPort, 4, 30_000);
    await zc.put(`${root}/instances/web/i2`, { host: '127.0.0.1', port: b2, name: 'nerve', weight: 2 });
    await zc.put(`${root}/instances/web/i3`, { serviceEndpoint: { host: '127.0.0.1', port: b3 }, additionalEndpoints: {}, status: 'ALIVE' });
    await waitUntil('all three to answer', async () => (await sample(webPort, 8)).size === 3);
    await zc.remove(`${root}/instances/web/i1`);
    await waitUntil('i1 to leave', async () => !(await sample(webPort, 8)).has(backends.id(b1)));
    await zc.put(`${root}/instances/web/junk`, 'this is not an instance');
    await agent.waitLog((l) => l.event === 'instance_invalid' && String(l.znode).endsWith('/junk'), 5000, from);
    const result = await load.stop();
    expect(result.failed).toBe(0);
    expect(agent.events('reload', from)).toHaveLength(0);
    expect(await agent.haproxyPid()).toBe(pid);

    // A new service: one reload. A malformed one: reported by name, nothing else touched.
    await zc.put(`${root}/instances/api/a`, { address: '127.0.0.1', port: b2 });
    await zc.put(`${root}/services/api`, { type: 'zookeeper', server: zk.connectString, path: `${root}/instances/api`, port: apiPort });
    await waitUntil('api to listen', () => isListening(apiPort), 5000);
    expect((await get(apiPort)).trim()).toBe(backends.id(b2));
    from = agent.mark();
    await zc.put(`${root}/services/broken`, '{"type": "zookeeper", "port": 0');
    const bad = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'broken', 5000, from);
    expect(String(bad.origin)).toBe(`zookeeper:${root}/services/broken`);
    expect((await get(apiPort)).trim()).toBe(backends.id(b2));

    await zc.remove(`${root}/services/api`);
    await waitUntil('api to close', async () => !(await isListening(apiPort)), 5000);
    expect((await get(webPort)).trim()).toMatch(/^b\d+$/);
  });
});
