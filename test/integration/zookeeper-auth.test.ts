import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { digestId } from '../../src/zk/auth';
import { AgentFixture, runCli } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePorts, sample, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

const SIDECAR = 'sidecar:side-Pa55word';
const WRONG = 'sidecar:wr0ng-Pa55word';
const PLATFORM = 'platform:plat-Pa55word';
// Readable by the sidecar identity only (and written by the platform's): no world entry at all.
const TOKEN = 'api-token-0123456789';
const ACL = `digest:${digestId(PLATFORM)}:all,digest:${digestId(SIDECAR)}:read`;

type Status = { good: boolean; errors: Array<{ service?: string; problem: string }>; warnings: Array<{ service?: string; problem: string }> };

// A service-config path and instance paths that only digest credentials can read.
describe('ZooKeeper digest credentials', () => {
  let zk: TestZooKeeper;
  let admin: ZkTestClient;
  let backends: Backends;
  let agent: AgentFixture | undefined;

  beforeAll(async () => {
    zk = new TestZooKeeper();
    zk.superUser = 'super:test-super';
    await zk.start();
    admin = await zk.client(PLATFORM);
    backends = await startBackends(3);
  });
  afterAll(async () => {
    admin.close();
    await zk.cleanup();
    await backends.close();
  });
  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
  });

  /** /ROOT/services/{web,api} and /ROOT/instances/{web,api}/a, all under ACL. */
  async function tree(root: string, webPort: number, apiPort: number): Promise<void> {
    const [b1, b2] = backends.ports;
    for (const p of [root, `${root}/services`, `${root}/instances`, `${root}/instances/web`, `${root}/instances/api`]) await admin.create(p, '', ACL);
    await admin.create(`${root}/instances/web/a`, { address: '127.0.0.1', port: b1 }, ACL);
    await admin.create(`${root}/instances/api/a`, { address: '127.0.0.1', port: b2 }, ACL);
    // One blob names the ensemble, the other its connect string: both get its credentials.
    await admin.create(`${root}/services/web`, { type: 'zookeeper', ensemble: 'main', path: `${root}/instances/web`, port: webPort }, ACL);
    await admin.create(`${root}/services/api`, { type: 'zookeeper', server: zk.connectString, path: `${root}/instances/api`, port: apiPort }, ACL);
  }

  function startAgent(root: string, credentials: string, apiListen: number): AgentFixture {
    const a = new AgentFixture({
      serviceConfig: { type: 'zookeeper', ensemble: 'main', path: `${root}/services` },
      extraYaml: [
        'zookeeper:',
        '  ensembles:',
        '    main:',
        `      servers: "${zk.connectString}"`,
        '      auth: {scheme: digest, credentials_file: sidecar.auth}',
        'api:',
        `  listen: "127.0.0.1:${apiListen}"`,
        `  token: "${TOKEN}"`,
        'status:',
        '  source_grace_ms: 500',
      ].join('\n'),
    });
    writeFileSync(join(a.dir, 'sidecar.auth'), `${credentials}\n`);
    return a;
  }

  const json = async (port: number, path: string) => (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { accept: 'application/json' } })).text();
  const status = async (port: number) => JSON.parse(await json(port, '/status')) as Status;

  test('the right credentials serve; wrong ones (SIGHUP) report NOAUTH naming the service, ensemble and path, keep the servers, and recover', async () => {
    const [webPort, apiPort, apiListen] = await freePorts(3);
    const [b1, b2, b3] = backends.ports;
    const root = '/secure1';
    await tree(root, webPort, apiPort);
    // The paths really are closed: without credentials, and as another identity, nothing can be listed.
    const anonymous = await zk.client();
    try {
      expect(await anonymous.tryChildren(`${root}/services`)).toBe('NO_AUTH');
      expect(await anonymous.tryChildren(`${root}/instances/web`)).toBe('NO_AUTH');
    } finally {
      anonymous.close();
    }

    // One instance the sidecars may not read: left out, said once, not a source error.
    await admin.create(`${root}/instances/web/hidden`, { address: '127.0.0.1', port: b2 }, `digest:${digestId(PLATFORM)}:all`);

    agent = startAgent(root, SIDECAR, apiListen);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
    expect(agent.events('instance_unreadable')).toEqual([
      expect.objectContaining({ service: 'web', znode: `${root}/instances/web/hidden`, error: `zookeeper ensemble main (${zk.connectString}) ${root}/instances/web/hidden: NOAUTH: not allowed to read as digest user "sidecar"; the znode's ACL does not grant it` }),
    ]);
    expect(await sample(apiPort, 3)).toEqual(new Set([backends.id(b2)]));
    // No false NOAUTH at start: the credentials go out before the first reads.
    expect(agent.events('source_error')).toEqual([]);
    expect(agent.events('service_config_error')).toEqual([]);
    expect((await status(apiListen)).good).toBe(true);
    // The sidecar's identity may read, not write: the API's write through to ZooKeeper is a 403.
    const put = await fetch(`http://127.0.0.1:${apiListen}/api/services/new`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'static', port: 18999, servers: ['127.0.0.1:1'] }),
    });
    expect(put.status).toBe(403);
    expect(((await put.json()) as { error: string }).error).toMatch(/NOAUTH/);

    // Wrong credentials: every read is refused.
    writeFileSync(join(agent.dir, 'sidecar.auth'), `${WRONG}\n`);
    let from = agent.mark();
    agent.proc!.kill('SIGHUP');
    await agent.waitLog((l) => l.event === 'config_reloaded', 5000, from);
    const webError = await agent.waitLog((l) => l.event === 'source_error' && l.service === 'web', 5000, from);
    expect(String(webError.error)).toBe(
      `zookeeper ensemble main (${zk.connectString}) ${root}/instances/web: NOAUTH: not allowed to list as digest user "sidecar"; the znode's ACL does not grant it; keeping the previous servers`,
    );
    expect(webError.kept).toBe(1);
    await agent.waitLog((l) => l.event === 'source_error' && l.service === 'api' && /NOAUTH/.test(String(l.error)), 5000, from);
    const scError = await agent.waitLog((l) => l.event === 'service_config_error', 5000, from);
    expect(String(scError.error)).toMatch(new RegExp(`^service config ensemble main \\(${zk.connectString}\\) ${root}/services: NOAUTH: not allowed to list as digest user "sidecar"`));

    // A change made meanwhile cannot be seen; the servers in HAProxy stay and serve.
    await admin.create(`${root}/instances/web/b`, { address: '127.0.0.1', port: b3 }, ACL);
    await new Promise((r) => setTimeout(r, 800));
    const rc = new RuntimeClient(agent.socketPath);
    expect((await rc.showServersState('web')).map((s) => s.port)).toEqual([b1]);
    expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
    expect(await sample(apiPort, 3)).toEqual(new Set([backends.id(b2)]));
    expect(agent.events('service_removed', from)).toEqual([]);

    // Past the grace period: /status names each service and the service config; /metrics shows it.
    const bad = await status(apiListen);
    expect(bad.good).toBe(false);
    const problems = bad.errors.map((e) => `${e.service ?? 'agent'}: ${e.problem}`).sort();
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^agent: service config ensemble main \\(${zk.connectString}\\) ${root}/services: NOAUTH`)),
      expect.stringMatching(new RegExp(`^api: zookeeper ensemble main \\(${zk.connectString}\\) ${root}/instances/api: NOAUTH`)),
      expect.stringMatching(new RegExp(`^web: zookeeper ensemble main \\(${zk.connectString}\\) ${root}/instances/web: NOAUTH`)),
    ]);
    const metrics = await json(apiListen, '/metrics');
    expect(metrics).toMatch(/proxymgr_source_up\{service="web",type="zookeeper"\} 0/);
    expect(metrics).toMatch(/proxymgr_agent_problems 1/);
    expect(metrics).toMatch(/proxymgr_services\{state="error"\} 2/);

    // The right credentials again: the change made meanwhile arrives, without a reload, and /status is good.
    writeFileSync(join(agent.dir, 'sidecar.auth'), `${SIDECAR}\n`);
    from = agent.mark();
    agent.proc!.kill('SIGHUP');
    // Until the new file is applied, the old watchers may retry (and fail) once more: count from there.
    const applied = agent.logs.indexOf(await agent.waitLog((l) => l.event === 'config_reloaded', 5000, from));
    await waitUntil('b3 to arrive', async () => (await rc.showServersState('web')).length === 2, 10_000);
    await waitUntil('/status good again', async () => (await status(apiListen)).good, 10_000);
    // (The watchers started again with the new credentials start clean: no source_recovered, no error.)
    // The watchers' new session sent its credentials before the reads queued while it connected.
    expect(agent.events('source_error', applied)).toEqual([]);
    expect(agent.events('reload', from)).toEqual([]);

    // A credentials file that cannot be read: the SIGHUP changes nothing, and says which file.
    unlinkSync(join(agent.dir, 'sidecar.auth'));
    from = agent.mark();
    agent.proc!.kill('SIGHUP');
    const invalid = await agent.waitLog((l) => l.event === 'config_invalid', 5000, from);
    expect(String(invalid.error)).toContain(`zookeeper.ensembles.main.auth: cannot read file ${join(agent.dir, 'sidecar.auth')} (ENOENT)`);
    expect((await status(apiListen)).good).toBe(true);
    expect(await sample(webPort, 4)).toEqual(new Set([backends.id(b1), backends.id(b3)]));

    // No password anywhere: the whole log, stderr, /status, /api/services, /metrics.
    const everything = [
      ...agent.logs.map((l) => JSON.stringify(l)),
      ...agent.stderr,
      await json(apiListen, '/status'),
      await json(apiListen, '/api/services'),
      await json(apiListen, '/api/services/web'),
      await json(apiListen, '/metrics'),
    ].join('\n');
    expect(everything).toContain('sidecar');
    for (const secret of ['side-Pa55word', 'wr0ng-Pa55word', digestId(SIDECAR).split(':')[1], digestId(WRONG).split(':')[1]]) expect(everything).not.toContain(secret);
  });

  test('an agent started with wrong credentials runs, serves nothing it cannot read, and says why', async () => {
    const [webPort, apiPort, apiListen] = await freePorts(3);
    const root = '/secure2';
    await tree(root, webPort, apiPort);
    agent = startAgent(root, WRONG, apiListen);
    await agent.start();
    await agent.waitLog((l) => l.event === 'api_listening');
    await waitUntil('/status to name the service config', async () => (await status(apiListen)).errors.length > 0, 5000);
    const st = await status(apiListen);
    expect(st.errors).toEqual([{ problem: expect.stringMatching(new RegExp(`^service config ensemble main \\(${zk.connectString}\\) ${root}/services: NOAUTH: not allowed to list as digest user "sidecar"`)) }]);
    expect(agent.events('service_defined')).toEqual([]);
    expect(agent.proc!.exitCode).toBeNull();
    // `proxymgr check` has no grace period: it says so at once, and fails.
    const check = await runCli(['check', '-c', agent.configFile, '--no-haproxy']);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`^ERROR service config ensemble main \\(${zk.connectString}\\) ${root}/services: NOAUTH: not allowed to list as digest user "sidecar"`, 'm'));
    expect(check.stdout + check.stderr).not.toContain('wr0ng-Pa55word');
    const everything = [...agent.logs.map((l) => JSON.stringify(l)), ...agent.stderr, await json(apiListen, '/status')].join('\n');
    expect(everything).not.toContain('wr0ng-Pa55word');
  });
});
