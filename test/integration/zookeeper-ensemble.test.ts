import { AgentFixture } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { startLoad } from '../support/load';
import { freePort, sample, waitUntil } from '../support/net';
import { TestEnsemble, type ZkTestClient } from '../support/zookeeper';
import { RuntimeClient } from '../../src/haproxy/runtime-client';

// Every host's sidecar watches the same ensemble: losing its leader must not cost a request or a change.
describe('3-node ZooKeeper ensemble', () => {
  let ens: TestEnsemble;
  let zc: ZkTestClient;
  let backends: Backends;
  let agent: AgentFixture;
  beforeAll(async () => {
    ens = await new TestEnsemble().start(3);
    zc = await ens.nodes[0].client();
    backends = await startBackends(3);
  });
  afterAll(async () => {
    zc.close();
    await agent?.cleanup();
    await ens.cleanup();
    await backends.close();
  });

  test('leader killed under load: 0 failed requests, changes keep flowing', async () => {
    const [b1, b2, b3] = backends.ports;
    const port = await freePort();
    await zc.put('/svc/web', { type: 'zookeeper', server: ens.connectString, path: '/inst/web', port });
    await zc.put('/inst/web/a', { address: '127.0.0.1', port: b1 });
    agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: ens.connectString, path: '/svc' } });
    await agent.start();
    expect(await sample(port, 3)).toEqual(new Set([backends.id(b1)]));
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const load = startLoad(port, 4, 30_000);

    const leader = await ens.leader();
    await leader.stop();
    // Write through a surviving member once the ensemble has a new leader.
    const survivor = ens.nodes.find((n) => n !== leader)!;
    zc.close();
    zc = await survivor.client();
    const t0 = Date.now();
    await zc.put('/inst/web/b', { address: '127.0.0.1', port: b2 });
    await zc.put('/inst/web/c', { address: '127.0.0.1', port: b3 });
    await waitUntil('changes after the failover to reach HAProxy', async () => (await client.showServersState('web')).length === 3, 10_000, 10);
    const ms = Date.now() - t0;
    const result = await load.stop();
    console.log(`leader killed: requests ok ${result.ok}, failed ${result.failed}; changes written after the kill visible in ${ms} ms`);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    expect(agent.events('reload', from)).toHaveLength(0);
  });
});
