import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { AgentFixture, CLI, runCli } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { freePorts, sample, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

// `host:port/chroot` works for the service-config source, a watcher, `service put` and `register`.
describe('ZooKeeper chroot connect strings', () => {
  let zk: TestZooKeeper;
  let admin: ZkTestClient;
  let backends: Backends;
  let dir: string;
  let agent: AgentFixture | undefined;

  beforeAll(async () => {
    zk = await new TestZooKeeper().start();
    admin = await zk.client();
    backends = await startBackends(3);
    dir = mkdtempSync(join(tmpdir(), 'pmgr-chroot-'));
  });
  afterAll(async () => {
    await agent?.cleanup();
    admin.close();
    await zk.cleanup();
    await backends.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('service put, register, the source and both kinds of watcher blob, all under /pm', async () => {
    const [b1, b2, b3] = backends.ports;
    const [webPort, apiPort] = await freePorts(2);
    const chrooted = `${zk.connectString}/pm`;
    // ZooKeeper does not create a chroot: the operator does, once.
    await admin.mkdirp('/pm');
    const ensembles = ['zookeeper:', '  ensembles:', '    main:', `      servers: "${chrooted}"`].join('\n');
    const cfg = join(dir, 'proxymgr.yml');
    writeFileSync(cfg, `${ensembles}\nservice_config: {type: zookeeper, ensemble: main, path: /services}\n`);
    writeFileSync(join(dir, 'web.json'), JSON.stringify({ type: 'zookeeper', server: chrooted, path: '/instances/web', port: webPort }));
    writeFileSync(join(dir, 'api.json'), JSON.stringify({ type: 'zookeeper', ensemble: 'main', path: '/instances/api', port: apiPort }));

    expect(await runCli(['service', 'put', 'web', '-c', cfg, '-f', join(dir, 'web.json')])).toMatchObject({ code: 0 });
    expect(await runCli(['service', 'put', 'api', '-c', cfg, '-f', join(dir, 'api.json')])).toMatchObject({ code: 0 });
    expect((await admin.children('/pm/services')).sort()).toEqual(['api', 'web']);
    expect(await admin.children('/')).not.toContain('services');
    expect((await runCli(['service', 'list', '-c', cfg])).stdout).toBe('api\nweb\n');

    const reg = (args: string[]) => spawn(process.execPath, [CLI, 'register', '--address', '127.0.0.1', '--interval-ms', '100', ...args], { stdio: 'ignore' });
    const procs = [
      reg(['--zk', chrooted, '--path', '/instances/web', '--port', String(b1), '--check', `http://127.0.0.1:${b1}/`]),
      reg(['--ensemble', 'main', '-c', cfg, '--path', '/instances/api', '--port', String(b2), '--check', `http://127.0.0.1:${b2}/`]),
    ];
    try {
      await waitUntil('both to register under the chroot', async () => (await admin.children('/pm/instances/web')).length === 1 && (await admin.children('/pm/instances/api')).length === 1, 10_000);
      expect(await admin.children('/instances')).toEqual([]);

      // The agent: its service config by a chroot connect string (the ensemble's servers: same session).
      agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: `"${chrooted}"`, path: '/services' }, extraYaml: ensembles });
      await agent.start();
      expect(await sample(webPort, 3)).toEqual(new Set([backends.id(b1)]));
      expect(await sample(apiPort, 3)).toEqual(new Set([backends.id(b2)]));
      // A change under the chroot arrives over the runtime API.
      const from = agent.mark();
      await admin.put(`/pm/instances/web/x`, { address: '127.0.0.1', port: b3 });
      const rc = new RuntimeClient(agent.socketPath);
      await waitUntil('the new instance', async () => (await rc.showServersState('web')).length === 2, 5000);
      expect(agent.events('reload', from)).toEqual([]);
      expect(agent.events('source_error')).toEqual([]);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  });

  test('a chroot that does not exist: service put says so, naming the ensemble', async () => {
    const cfg = join(dir, 'missing.yml');
    writeFileSync(cfg, `service_config: {type: zookeeper, servers: "${zk.connectString}/absent", path: /services}\n`);
    writeFileSync(join(dir, 'x.json'), JSON.stringify({ type: 'static', port: 8080, servers: ['127.0.0.1:1'] }));
    const r = await runCli(['service', 'put', 'x', '-c', cfg, '-f', join(dir, 'x.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`proxymgr service put: ${zk.connectString}/absent /services/x: does not exist (under the chroot /absent, which ZooKeeper does not create)\n`);
  });
});
