import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { ADMIN, apiYaml, call, listening, READ, startTwoAgents, startWithTokens } from '../support/services-api';
import { freePort, isListening, sample, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

// A deploy pipeline manages services over HTTP; the source (directory or ZooKeeper) stays the one truth.
describe('services through the API', () => {
  let backends: Backends;
  const agents: AgentFixture[] = [];
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.cleanup();
  });

  test('file source: PUT opens the port, stale If-Match and bad blobs change nothing, read is refused, DELETE closes it', async () => {
    const [b1, b2] = backends.ports;
    const [webPort, shopPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const agent = new AgentFixture({ services: { web: { type: 'static', port: webPort, servers: [`127.0.0.1:${b1}`] } }, extraYaml: apiYaml(apiPort) });
    agents.push(agent);
    await startWithTokens(agent);
    const file = join(agent.servicesDir, 'shop.json');
    const blob = { type: 'static', port: shopPort, servers: [`127.0.0.1:${b1}`] };

    // Refused before anything is written: a read token, a bad blob.
    expect((await call(apiPort, 'PUT', '/api/services/shop', READ, blob)).status).toBe(403);
    const bad = await call(apiPort, 'PUT', '/api/services/shop', ADMIN, { ...blob, servers: ['127.0.0.1:0'], balance: 'fastest' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^balance: /), expect.stringMatching(/^servers\[0\]: /)]));
    expect(readdirSync(agent.servicesDir)).toEqual(['web.json']);

    const from = agent.mark();
    const put = await call(apiPort, 'PUT', '/api/services/shop', ADMIN, blob);
    expect(put.status).toBe(201);
    await waitUntil('shop to listen', () => isListening(shopPort), 5000);
    expect(await sample(shopPort, 2)).toEqual(new Set([backends.id(b1)]));
    // Through the agent's normal watch: the file was defined like any other.
    await agent.waitLog((l) => l.event === 'service_defined' && l.service === 'shop', 5000, from);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(blob);

    const def = await call(apiPort, 'GET', '/api/services/shop/definition');
    expect(def.json).toEqual({ blob, version: put.json.version });
    expect(def.etag).toBe(put.etag);

    // Someone edits the file by hand: the version the deploy read is stale.
    const edited = { ...blob, servers: [`127.0.0.1:${b1}`, `127.0.0.1:${b2}`] };
    writeFileSync(file, JSON.stringify(edited));
    await waitUntil('both backends', async () => (await sample(shopPort, 6)).size === 2, 5000);
    const stale = await call(apiPort, 'PUT', '/api/services/shop', ADMIN, { ...blob, servers: [`127.0.0.1:${b2}`] }, { 'if-match': put.etag! });
    expect(stale.status).toBe(412);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(edited);
    expect((await call(apiPort, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': put.etag! })).status).toBe(412);
    expect(existsSync(file)).toBe(true);

    // With the current version it goes through.
    const now = await call(apiPort, 'GET', '/api/services/shop/definition');
    const ok = await call(apiPort, 'PUT', '/api/services/shop', ADMIN, { ...blob, servers: [`127.0.0.1:${b2}`] }, { 'if-match': now.etag! });
    expect(ok.status).toBe(200);
    await waitUntil('only b2', async () => [...(await sample(shopPort, 6))].join() === backends.id(b2), 5000);

    expect((await call(apiPort, 'DELETE', '/api/services/shop', READ)).status).toBe(403);
    expect((await call(apiPort, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': ok.etag! })).status).toBe(200);
    await waitUntil('shop to close', async () => !(await isListening(shopPort)), 5000);
    expect(existsSync(file)).toBe(false);
    expect(await isListening(webPort)).toBe(true);

    await agent.waitLog((l) => l.event === 'audit' && l.method === 'DELETE' && l.status === 200);
    const audit = agent.events('audit');
    expect(audit.map((l) => [l.token, l.method, l.status])).toEqual([
      ['dashboard', 'PUT', 403],
      ['deploy', 'PUT', 400],
      ['deploy', 'PUT', 201],
      ['deploy', 'PUT', 412],
      ['deploy', 'DELETE', 412],
      ['deploy', 'PUT', 200],
      ['dashboard', 'DELETE', 403],
      ['deploy', 'DELETE', 200],
    ]);
    const everything = [...agent.logs.map((l) => JSON.stringify(l)), ...agent.stderr].join('\n');
    expect(everything).not.toContain(ADMIN);
    expect(everything).not.toContain(READ);
  });

  describe('ZooKeeper source', () => {
    let zk: TestZooKeeper;
    let zc: ZkTestClient;
    beforeAll(async () => {
      zk = await new TestZooKeeper().start();
      zc = await zk.client();
    });
    afterAll(async () => {
      zc.close();
      await zk.cleanup();
    });

    test('PUT writes the znode: this agent and a second one on the same ZooKeeper open the port; If-Match is the znode version', async () => {
      const [b1, b2] = backends.ports;
      const [shopPort, apiA, apiB] = [await freePort(), await freePort(), await freePort()];
      const serviceConfig = { type: 'zookeeper', servers: `"${zk.connectString}"`, path: '/api_test/services' };
      await zc.mkdirp('/api_test/services');
      await startTwoAgents(serviceConfig, apiA, apiB, agents);

      const blob = { type: 'static', port: shopPort, servers: [`127.0.0.1:${b1}`] };
      expect((await call(apiA, 'PUT', '/api/services/shop', READ, blob)).status).toBe(403);
      const bad = await call(apiA, 'PUT', '/api/services/shop', ADMIN, { ...blob, port: 'eighty' });
      expect(bad.status).toBe(400);
      expect(bad.json.errors).toEqual([expect.stringMatching(/^port: /)]);
      expect(await zc.children('/api_test/services')).toEqual([]);

      const put = await call(apiA, 'PUT', '/api/services/shop', ADMIN, blob);
      expect(put.status).toBe(201);
      expect(put.json.version).toBe('0');
      await waitUntil('shop on agent A', () => listening('127.0.0.1', shopPort), 5000);
      await waitUntil('shop on agent B', () => listening('127.0.0.2', shopPort), 5000);
      expect(await sample(shopPort, 2)).toEqual(new Set([backends.id(b1)]));

      // The second agent reads the same znode, with the same version.
      expect((await call(apiB, 'GET', '/api/services/shop/definition')).json).toEqual({ blob, version: '0' });
      const v1 = await call(apiB, 'PUT', '/api/services/shop', ADMIN, { ...blob, servers: [`127.0.0.1:${b2}`] }, { 'if-match': '"0"' });
      expect(v1.json).toMatchObject({ version: '1', created: false });
      await waitUntil('agent A follows B', async () => [...(await sample(shopPort, 4))].join() === backends.id(b2), 5000);

      // Version 0 is stale now: 412 on both agents, and the znode keeps version 1.
      const stale = await call(apiA, 'PUT', '/api/services/shop', ADMIN, blob, { 'if-match': '0' });
      expect(stale.status).toBe(412);
      expect(stale.json.version).toBe('1');
      expect((await call(apiB, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': '0' })).status).toBe(412);
      expect(JSON.parse((await zc.get('/api_test/services/shop')).toString('utf8'))).toEqual({ ...blob, servers: [`127.0.0.1:${b2}`] });

      expect((await call(apiA, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': '1' })).status).toBe(200);
      await waitUntil('shop gone on A', async () => !(await listening('127.0.0.1', shopPort)), 5000);
      await waitUntil('shop gone on B', async () => !(await listening('127.0.0.2', shopPort)), 5000);
      expect(await zc.children('/api_test/services')).toEqual([]);
      expect((await call(apiB, 'GET', '/api/services/shop/definition')).status).toBe(404);
    });
  });
});
