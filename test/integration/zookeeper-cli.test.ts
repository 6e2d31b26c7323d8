import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runCli } from '../support/agent';
import { freePort, waitUntil } from '../support/net';
import { TestZooKeeper, type ZkTestClient } from '../support/zookeeper';

// What platform teams run: `proxymgr service ...` and `proxymgr register`, against a real ZooKeeper.
describe('ZooKeeper CLI', () => {
  let zk: TestZooKeeper;
  let zc: ZkTestClient;
  let dir: string;
  let cfg: string;
  beforeAll(async () => {
    zk = await new TestZooKeeper().start();
    zc = await zk.client();
    dir = mkdtempSync(join(tmpdir(), 'pmgr-cli-'));
    cfg = join(dir, 'proxymgr.yml');
    writeFileSync(cfg, `service_config:\n  type: zookeeper\n  servers: "${zk.connectString}"\n  path: /service_config\n`);
  });
  afterAll(async () => {
    zc.close();
    await zk.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('service put validates before writing; get, list and delete', async () => {
    const good = join(dir, 'web.json');
    writeFileSync(good, JSON.stringify({ type: 'zookeeper', server: zk.connectString, path: '/services/web', port: 8080 }));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ type: 'zookeeper', server: zk.connectString, path: 'services/web', port: 70000 }));

    const put = await runCli(['service', 'put', 'web', '-c', cfg, '-f', good]);
    expect(put.code).toBe(0);
    const rejected = await runCli(['service', 'put', 'api', '-c', cfg, '-f', bad]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/service api .* is invalid:\n {2}- port: must be 1\.\.65535\n {2}- path: must be an absolute znode path/);

    const list = await runCli(['service', 'list', '-c', cfg]);
    expect(list.stdout).toBe('web\n');
    const get = await runCli(['service', 'get', 'web', '-c', cfg]);
    expect(JSON.parse(get.stdout)).toMatchObject({ type: 'zookeeper', port: 8080 });
    expect((await runCli(['service', 'get', 'api', '-c', cfg])).code).toBe(1);
    expect((await runCli(['service', 'delete', 'web', '-c', cfg])).code).toBe(0);
    expect((await runCli(['service', 'list', '-c', cfg])).stdout).toBe('');
  });

  test('register keeps an ephemeral znode while the health check passes', async () => {
    const port = await freePort();
    let up = true;
    const app = http.createServer((_q, res) => {
      res.statusCode = up ? 200 : 503;
      res.end();
    });
    await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    const proc = spawn(process.execPath, [CLI, 'register', '--zk', zk.connectString, '--path', '/services/app', '--address', '127.0.0.1', '--port', String(port), '--weight', '3', '--check', `http://127.0.0.1:${port}/health`, '--interval-ms', '100'], { stdio: 'ignore' });
    const node = `/services/app/127.0.0.1:${port}`;
    const exists = async () => (await zc.children('/services/app')).includes(`127.0.0.1:${port}`);
    try {
      await waitUntil('the instance to be registered', exists, 5000);
      expect(JSON.parse((await zc.get(node)).toString())).toEqual({ address: '127.0.0.1', port, weight: 3 });
      up = false;
      await waitUntil('the instance to be removed when unhealthy', async () => !(await exists()), 5000);
      up = true;
      await waitUntil('the instance to come back', exists, 5000);
      // An operator's edit stays (five intervals later it is still theirs); a znode deleted by hand comes back.
      await zc.put(node, { address: '127.0.0.1', port, weight: 0 });
      await new Promise((r) => setTimeout(r, 500));
      expect(JSON.parse((await zc.get(node)).toString())).toEqual({ address: '127.0.0.1', port, weight: 0 });
      await zc.remove(node);
      await waitUntil('the instance deleted by hand to come back', exists, 5000);
      expect(JSON.parse((await zc.get(node)).toString())).toEqual({ address: '127.0.0.1', port, weight: 3 });
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      expect(await exists()).toBe(false);
    } finally {
      proc.kill('SIGKILL');
      app.close();
    }
  });
});
