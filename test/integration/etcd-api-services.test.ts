import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { AgentFixture, runCli } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { TestEtcd } from '../support/etcd';
import { freePort, sample, waitUntil } from '../support/net';
import { ADMIN, apiYaml, call, listening, READ, startTwoAgents, startWithTokens } from '../support/services-api';

// The HTTP API's /api/services with service_config type etcd: the key is the one truth, its mod_revision the ETag.
describe('services through the API, etcd source', () => {
  let etcd: TestEtcd;
  let ec: Etcd3;
  let backends: Backends;
  const agents: AgentFixture[] = [];
  beforeAll(async () => {
    etcd = await new TestEtcd().start();
    ec = etcd.client();
    backends = await startBackends(2);
  });
  afterAll(async () => {
    ec.close();
    await etcd.cleanup();
    await backends.close();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.cleanup();
  });

  const serviceConfig = () => ({ type: 'etcd', endpoints: etcd.endpoint, prefix: '/api_test/services' });
  const stored = async (key: string) => {
    const kv = (await ec.get(key).exec()).kvs[0];
    return kv && { blob: JSON.parse(kv.value.toString()) as unknown, version: String(kv.mod_revision) };
  };

  test('PUT writes the key: this agent and a second one open the port; If-Match is the mod_revision, against every writer', async () => {
    const [b1, b2] = backends.ports;
    const [shopPort, apiA, apiB] = [await freePort(), await freePort(), await freePort()];
    await startTwoAgents(serviceConfig(), apiA, apiB, agents);

    const blob = { type: 'static', port: shopPort, servers: [`127.0.0.1:${b1}`] };
    expect((await call(apiA, 'PUT', '/api/services/shop', READ, blob)).status).toBe(403);
    const bad = await call(apiA, 'PUT', '/api/services/shop', ADMIN, { ...blob, port: 'eighty' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual([expect.stringMatching(/^port: /)]);
    // A cluster this agent's proxymgr.yml does not define would be a source error on every sidecar.
    const nowhere = await call(apiA, 'PUT', '/api/services/shop', ADMIN, { type: 'etcd', cluster: 'nowhere', prefix: '/x', port: shopPort });
    expect(nowhere.status).toBe(400);
    expect(nowhere.json.errors).toEqual([expect.stringMatching(/^cluster: "nowhere" is not defined in .*\(etcd\.clusters\)$/)]);
    expect(await ec.getAll().prefix('/api_test/').keys()).toEqual([]);

    const put = await call(apiA, 'PUT', '/api/services/shop', ADMIN, blob);
    expect(put.status).toBe(201);
    expect(await stored('/api_test/services/shop')).toEqual({ blob, version: put.json.version });
    expect(put.etag).toBe(`"${put.json.version}"`);
    await waitUntil('shop on agent A', () => listening('127.0.0.1', shopPort), 10_000);
    await waitUntil('shop on agent B', () => listening('127.0.0.2', shopPort), 10_000);
    expect(await sample(shopPort, 2)).toEqual(new Set([backends.id(b1)]));

    // If-None-Match: * is "create only": the service exists now.
    expect((await call(apiB, 'PUT', '/api/services/shop', ADMIN, blob, { 'if-none-match': '*' })).status).toBe(412);

    // The second agent reads the same key, with the same version, and writes against it.
    const def = await call(apiB, 'GET', '/api/services/shop/definition');
    expect(def.json).toEqual({ blob, version: put.json.version });
    const v1 = await call(apiB, 'PUT', '/api/services/shop', ADMIN, { ...blob, servers: [`127.0.0.1:${b2}`] }, { 'if-match': def.etag! });
    expect(v1.json).toMatchObject({ created: false });
    expect(Number(v1.json.version)).toBeGreaterThan(Number(put.json.version));
    await waitUntil('agent A follows B', async () => [...(await sample(shopPort, 4))].join() === backends.id(b2), 10_000);

    // The first version is stale now: 412 on both agents, naming the current one; the key keeps B's blob.
    const stale = await call(apiA, 'PUT', '/api/services/shop', ADMIN, blob, { 'if-match': put.etag! });
    expect(stale.status).toBe(412);
    expect(stale.json.version).toBe(v1.json.version);
    expect((await call(apiB, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': put.etag! })).status).toBe(412);
    expect((await stored('/api_test/services/shop'))?.blob).toEqual({ ...blob, servers: [`127.0.0.1:${b2}`] });

    // Another writer (etcdctl, a pipeline with its own client) changes the key: the API's version is stale too.
    await ec.put('/api_test/services/shop').value(JSON.stringify(blob));
    const byOther = await stored('/api_test/services/shop');
    expect(await call(apiA, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': v1.etag! })).toMatchObject({ status: 412, json: { version: byOther!.version } });
    expect((await call(apiA, 'GET', '/api/services/shop/definition')).json).toEqual(byOther);

    expect((await call(apiA, 'DELETE', '/api/services/shop', ADMIN, undefined, { 'if-match': `"${byOther!.version}"` })).status).toBe(200);
    await waitUntil('shop gone on A', async () => !(await listening('127.0.0.1', shopPort)), 10_000);
    await waitUntil('shop gone on B', async () => !(await listening('127.0.0.2', shopPort)), 10_000);
    expect(await ec.getAll().prefix('/api_test/').keys()).toEqual([]);
    expect((await call(apiB, 'GET', '/api/services/shop/definition')).status).toBe(404);
    expect((await call(apiB, 'DELETE', '/api/services/shop', ADMIN)).status).toBe(404);
  });

  test('a service kept one level deeper is written in place; two keys naming it: 409, nothing written', async () => {
    const [b1, b2] = backends.ports;
    const [port, api] = [await freePort(), await freePort()];
    const blob = { type: 'static', port, servers: [`127.0.0.1:${b1}`] };
    await ec.put('/api_test/services/team-a/cart').value(JSON.stringify(blob));
    const agent = new AgentFixture({ serviceConfig: serviceConfig(), extraYaml: apiYaml(api) });
    agents.push(agent);
    await startWithTokens(agent);
    await waitUntil('cart to listen', () => listening('127.0.0.1', port), 10_000);

    const now = await call(api, 'GET', '/api/services/cart/definition');
    const moved = { ...blob, servers: [`127.0.0.1:${b2}`] };
    expect((await call(api, 'PUT', '/api/services/cart', ADMIN, moved, { 'if-match': now.etag! })).status).toBe(200);
    expect(await ec.getAll().prefix('/api_test/').keys()).toEqual(['/api_test/services/team-a/cart']);
    await waitUntil('cart on b2', async () => [...(await sample(port, 4))].join() === backends.id(b2), 10_000);

    await ec.put('/api_test/services/team-b/cart').value(JSON.stringify(blob));
    const conflict = await call(api, 'PUT', '/api/services/cart', ADMIN, blob);
    expect(conflict.status).toBe(409);
    expect(conflict.json.error).toBe('service cart is ambiguous: /api_test/services/team-a/cart and /api_test/services/team-b/cart both name it');
    expect((await stored('/api_test/services/team-a/cart'))?.blob).toEqual(moved);
    await ec.delete().prefix('/api_test/');
  });
});

// etcd with authentication on: the sidecars' user reads the prefix, the platform's writes it.
describe('services through the API and the CLI, etcd with users and roles', () => {
  let etcd: TestEtcd;
  let dir: string;
  const root = ['--user', 'root:root-pw-0123'];
  beforeAll(async () => {
    etcd = await new TestEtcd('auth').start();
    dir = mkdtempSync(join(tmpdir(), 'pmgr-etcdauth-'));
    const ctl = (...args: string[]) => etcd.ctl(args);
    await ctl('user', 'add', 'root', '--new-user-password=root-pw-0123');
    await ctl('role', 'add', 'root');
    await ctl('user', 'grant-role', 'root', 'root');
    for (const [user, perm] of [['sidecar', 'read'], ['platform', 'readwrite']]) {
      await ctl('user', 'add', user, `--new-user-password=${user}-pw-secret`);
      await ctl('role', 'add', `svc-${perm}`);
      await ctl('role', 'grant-permission', `svc-${perm}`, '--prefix=true', perm, '/auth_test/services/');
      await ctl('user', 'grant-role', user, `svc-${perm}`);
      writeFileSync(join(dir, user), `${user}:${user}-pw-secret\n`);
    }
    await ctl('auth', 'enable');
    await etcd.ctl([...root, 'put', '/auth_test/services/web', JSON.stringify({ type: 'static', port: await freePort(), servers: ['127.0.0.1:1'] })]);
  });
  afterAll(async () => {
    await etcd.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the sidecar's read-only user: PUT 403, nothing written; the platform's user writes", async () => {
    const api = await freePort();
    const sc = { type: 'etcd', endpoints: etcd.endpoint, prefix: '/auth_test/services', auth: `{credentials_file: ${join(dir, 'sidecar')}}` };
    const agent = new AgentFixture({ serviceConfig: sc, extraYaml: apiYaml(api) });
    try {
      await startWithTokens(agent);
      const port = await freePort();
      const denied = await call(api, 'PUT', '/api/services/shop', ADMIN, { type: 'static', port, servers: ['127.0.0.1:1'] });
      expect(denied.status).toBe(403);
      expect(String(denied.json.error)).toMatch(/permission denied/);
      expect((await call(api, 'GET', '/api/services/web/definition')).status).toBe(200);
      expect(await etcd.ctl([...root, 'get', '--prefix', '--keys-only', '/auth_test/services/'])).not.toContain('shop');

      // The CLI as the platform (--auth-file), in place of proxymgr.yml's sidecar user.
      const blob = join(dir, 'shop.json');
      writeFileSync(blob, JSON.stringify({ type: 'static', port, servers: ['127.0.0.1:1'] }));
      const asSidecar = await runCli(['service', 'put', 'shop', '-c', agent.configFile, '-f', blob]);
      expect(asSidecar.code).toBe(1);
      expect(asSidecar.stderr).toBe(`proxymgr service put: etcd ${etcd.endpoint} /auth_test/services/shop: permission denied: cannot write as etcd user "sidecar"\n`);
      const asPlatform = await runCli(['service', 'put', 'shop', '-c', agent.configFile, '-f', blob, '--auth-file', join(dir, 'platform')]);
      expect(asPlatform.code).toBe(0);
      await waitUntil('shop to listen', () => listening('127.0.0.1', port), 10_000);
      const wrong = join(dir, 'wrong');
      writeFileSync(wrong, 'platform:not-the-password\n');
      const badLogin = await runCli(['service', 'list', '-c', agent.configFile, '--auth-file', wrong]);
      expect(badLogin.code).toBe(1);
      expect(badLogin.stderr).toContain('authentication failed as etcd user "platform"');
      const everything = [denied, asSidecar, asPlatform, badLogin, ...agent.logs, ...agent.stderr].map((x) => JSON.stringify(x)).join('\n');
      expect(everything).not.toMatch(/pw-secret|not-the-password/);
    } finally {
      await agent.cleanup();
    }
  });
});
