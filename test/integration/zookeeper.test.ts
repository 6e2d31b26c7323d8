import { RuntimeClient } from '../../src/haproxy/runtime-client';
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

  test('a serverset member counts only while ALIVE: created DEAD it gets no traffic, flipped to ALIVE it joins without a reload', async () => {
    const [b1, b2] = backends.ports;
    const [webPort] = await freePorts(1);
    const root = `/t${Date.now()}s`;
    const member = (port: number, status?: string) => ({ serviceEndpoint: { host: '127.0.0.1', port }, additionalEndpoints: {}, shard: 0, ...(status && { status }) });
    await zc.put(`${root}/services/web`, { type: 'zookeeper', server: zk.connectString, path: `${root}/instances/web`, port: webPort });
    await zc.put(`${root}/instances/web/member_0000000001`, member(b1, 'ALIVE'));
    await zc.put(`${root}/instances/web/member_0000000002`, member(b2, 'DEAD'));
    agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: zk.connectString, path: `${root}/services` } });
    await agent.start();
    const rc = new RuntimeClient(agent.socketPath);
    const serving = async () => (await rc.showServersState('web')).filter((s) => !s.maint).map((s) => s.port).sort((x, y) => x - y);

    const dead = await agent.waitLog((l) => l.event === 'instance_not_alive', 5000);
    expect(dead).toMatchObject({ level: 30, service: 'web', znode: `${root}/instances/web/member_0000000002`, status: 'DEAD' });
    expect(agent.events('instance_invalid')).toEqual([]);
    expect(await serving()).toEqual([b1]);
    expect(await sample(webPort, 10)).toEqual(new Set([backends.id(b1)]));

    // Another status that is not ALIVE: still out, logged once more (the reason changed).
    let from = agent.mark();
    await zc.put(`${root}/instances/web/member_0000000002`, member(b2, 'STARTING'));
    await agent.waitLog((l) => l.event === 'instance_not_alive' && l.status === 'STARTING', 5000, from);
    expect(await sample(webPort, 10)).toEqual(new Set([backends.id(b1)]));

    // ALIVE: an ordinary server-list change, over the runtime API.
    from = agent.mark();
    const pid = await agent.haproxyPid();
    await zc.put(`${root}/instances/web/member_0000000002`, member(b2, 'ALIVE'));
    await waitUntil('b2 to serve', async () => (await serving()).includes(b2), 5000);
    await waitUntil('b2 to answer', async () => (await sample(webPort, 8)).has(backends.id(b2)), 5000);
    expect(await serving()).toEqual([b1, b2].sort((x, y) => x - y));
    // HAProxy can answer before the agent's line about it is read: wait for the line.
    await agent.waitLog((l) => l.event === 'plan', 2000, from);
    expect(agent.events('reload', from)).toEqual([]);
    expect(await agent.haproxyPid()).toBe(pid);

    // And back to STOPPING: out again, still without a reload.
    from = agent.mark();
    await zc.put(`${root}/instances/web/member_0000000002`, member(b2, 'STOPPING'));
    await waitUntil('b2 to leave', async () => !(await serving()).includes(b2), 5000);
    expect(await sample(webPort, 10)).toEqual(new Set([backends.id(b1)]));
    expect(agent.events('reload', from)).toEqual([]);
    expect(agent.events('instance_not_alive', from)).toHaveLength(1);
  });
});
