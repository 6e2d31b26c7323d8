import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Etcd3 } from 'etcd3';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { AgentFixture, CLI, runCli, type LogLine } from '../support/agent';
import { startBackends, type Backends } from '../support/backends';
import { TestEtcd } from '../support/etcd';
import { freePort, waitUntil } from '../support/net';

/** A `proxymgr register` process and the log lines it wrote. */
interface Registrar {
  proc: ChildProcess;
  logs: LogLine[];
}

function startRegister(args: string[]): Registrar {
  const proc = spawn(process.execPath, [CLI, 'register', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PROXYMGR_LOG_PRETTY: '0' } });
  const logs: LogLine[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ msg: line });
    }
  });
  return { proc, logs };
}

/** A health endpoint the test turns up and down. */
async function healthEndpoint(): Promise<{ url: string; set(up: boolean): void; close(): void }> {
  const port = await freePort();
  let up = true;
  const server = http.createServer((_q, res) => {
    res.statusCode = up ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/health`, set: (v) => (up = v), close: () => server.close() };
}

const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

// What platform teams run against etcd: `proxymgr service ...` and `proxymgr register`, with a real etcd and agent.
describe('etcd CLI', () => {
  let etcd: TestEtcd;
  let ec: Etcd3;
  let dir: string;
  let cfg: string;
  let backends: Backends;
  beforeAll(async () => {
    etcd = await new TestEtcd().start();
    ec = etcd.client();
    backends = await startBackends(3);
    dir = mkdtempSync(join(tmpdir(), 'pmgr-etcdcli-'));
    cfg = join(dir, 'proxymgr.yml');
    writeFileSync(cfg, `service_config:\n  type: etcd\n  endpoints: "${etcd.endpoint}"\n  prefix: /proxymgr/services\netcd:\n  clusters:\n    main:\n      endpoints: ["${etcd.endpoint}"]\n`);
  });
  afterAll(async () => {
    ec.close();
    await etcd.cleanup();
    await backends.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await ec.delete().all();
  });

  const keys = (prefix: string) => ec.getAll().prefix(prefix).keys();

  test('service put validates before writing (nothing written for a bad blob); get, list and delete', async () => {
    const web = join(dir, 'web.json');
    writeFileSync(web, JSON.stringify({ type: 'etcd', cluster: 'main', prefix: '/instances/web', port: 8080 }));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ type: 'etcd', endpoints: [etcd.endpoint], prefix: 'instances/api', port: 70000 }));
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ type: 'etcd', cluster: 'elsewhere', prefix: '/instances/api', port: 8081 }));

    const put = await runCli(['service', 'put', 'web', '-c', cfg, '-f', web]);
    expect(put).toMatchObject({ code: 0, stdout: expect.stringMatching(/^service web created at \/proxymgr\/services\/web \(revision \d+\)\n$/) });
    const rejected = await runCli(['service', 'put', 'api', '-c', cfg, '-f', bad]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/service api .* is invalid:\n {2}- port: must be 1\.\.65535\n {2}- prefix: must be an absolute key prefix/);
    const notDefined = await runCli(['service', 'put', 'api', '-c', cfg, '-f', unknown]);
    expect(notDefined.code).toBe(1);
    expect(notDefined.stderr).toContain(`- cluster: "elsewhere" is not defined in ${cfg} (etcd.clusters)`);
    expect(await keys('/proxymgr/')).toEqual(['/proxymgr/services/web']);

    // A service another tool wrote one level deeper is found by its last segment, as the agents find it.
    await ec.put('/proxymgr/services/team-a/shop').value(JSON.stringify({ type: 'static', port: 8082, servers: ['127.0.0.1:1'] }));
    expect((await runCli(['service', 'list', '-c', cfg])).stdout).toBe('shop\nweb\n');
    const get = await runCli(['service', 'get', 'web', '-c', cfg]);
    expect(JSON.parse(get.stdout)).toEqual({ type: 'etcd', cluster: 'main', prefix: '/instances/web', port: 8080 });
    expect(JSON.parse((await runCli(['service', 'get', 'shop', '-c', cfg])).stdout)).toMatchObject({ port: 8082 });
    expect(await runCli(['service', 'get', 'api', '-c', cfg])).toMatchObject({ code: 1, stderr: 'proxymgr service get: no service api under /proxymgr/services\n' });

    // put on an existing service overwrites its key; delete removes the key the service lives at.
    expect((await runCli(['service', 'put', 'shop', '-c', cfg, '-f', web])).stdout).toMatch(/^service shop written at \/proxymgr\/services\/team-a\/shop/);
    expect((await runCli(['service', 'delete', 'web', '-c', cfg])).code).toBe(0);
    expect((await runCli(['service', 'delete', 'shop', '-c', cfg])).stdout).toBe('service shop deleted (/proxymgr/services/team-a/shop)\n');
    expect((await runCli(['service', 'list', '-c', cfg])).stdout).toBe('');
    expect(await keys('/proxymgr/')).toEqual([]);
  });

  test('an unreachable etcd: the error names the endpoints and the key', async () => {
    const port = await freePort();
    const down = join(dir, 'down.yml');
    writeFileSync(down, `service_config:\n  type: etcd\n  endpoints: "127.0.0.1:${port}"\n  prefix: /proxymgr/services\n`);
    const r = await runCli(['service', 'get', 'web', '-c', down]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^proxymgr service get: etcd http://127\\.0\\.0\\.1:${port} /proxymgr/services/web: unreachable \\(14 UNAVAILABLE`));
  });

  test('register: instances reach HAProxy; a failing check revokes exactly that lease; SIGKILL: gone after the TTL; SIGTERM: gone at once', async () => {
    const [b1, b2, b3] = backends.ports;
    const port = await freePort();
    const blob = join(dir, 'app.json');
    writeFileSync(blob, JSON.stringify({ type: 'etcd', endpoints: [etcd.endpoint], prefix: '/instances/app', port }));
    expect((await runCli(['service', 'put', 'app', '-c', cfg, '-f', blob])).code).toBe(0);
    const agent = new AgentFixture({ serviceConfig: { type: 'etcd', endpoints: etcd.endpoint, prefix: '/proxymgr/services' } });
    const checkA = await healthEndpoint();
    const registrars: Registrar[] = [];
    try {
      await agent.start();
      const client = new RuntimeClient(agent.socketPath);
      const inHaproxy = async () => (await client.showServersState('app')).filter((s) => !s.maint).map((s) => s.port).sort((a, b) => a - b);
      const common = ['--prefix', '/instances/app', '--address', '127.0.0.1', '--interval-ms', '100', '--ttl', '3'];
      const t = Date.now();
      const a = startRegister(['--etcd', etcd.endpoint, ...common, '--port', String(b1), '--weight', '3', '--check', checkA.url]);
      const b = startRegister(['--etcd', etcd.endpoint, ...common, '--port', String(b2)]);
      // A cluster of proxymgr.yml, as a host with the sidecar's configuration would name it.
      const c = startRegister(['--etcd-cluster', 'main', '-c', cfg, ...common, '--port', String(b3)]);
      registrars.push(a, b, c);
      const all = [b1, b2, b3].sort((x, y) => x - y);
      await waitUntil('three instances in HAProxy', async () => JSON.stringify(await inHaproxy()) === JSON.stringify(all), 15_000, 50);
      console.log(`etcd register: three register processes started -> all in HAProxy after ${Date.now() - t} ms (node start-up included)`);
      const kv = await ec.get(`/instances/app/127.0.0.1:${b1}`).exec();
      expect(JSON.parse(kv.kvs[0].value.toString())).toEqual({ address: '127.0.0.1', port: b1, weight: 3 });
      expect(Number(kv.kvs[0].lease)).toBeGreaterThan(0);

      // A's check fails: its lease is revoked, its key goes at once (well within the TTL), the others stay.
      checkA.set(false);
      let t0 = Date.now();
      await waitUntil('A to leave HAProxy', async () => !(await inHaproxy()).includes(b1), 10_000, 20);
      console.log(`etcd register: check failing -> instance out of HAProxy in ${Date.now() - t0} ms`);
      expect(await inHaproxy()).toEqual([b2, b3].sort((x, y) => x - y));
      expect(a.logs.some((l) => l.event === 'deregistered')).toBe(true);
      checkA.set(true);
      t0 = Date.now();
      await waitUntil('A to come back', async () => (await inHaproxy()).includes(b1), 10_000, 20);
      console.log(`etcd register: check passing again -> instance back in ${Date.now() - t0} ms`);

      // An operator's edit of C's key stays (five intervals later it is still theirs); the key deleted by hand comes back on its lease.
      const keyC = `/instances/app/127.0.0.1:${b3}`;
      const leaseC = (await ec.get(keyC).exec()).kvs[0].lease;
      await ec.put(keyC).value(JSON.stringify({ address: '127.0.0.1', port: b3, weight: 0 })).lease(leaseC).exec();
      await new Promise((r) => setTimeout(r, 500));
      expect(JSON.parse((await ec.get(keyC).string())!)).toEqual({ address: '127.0.0.1', port: b3, weight: 0 });
      await ec.delete().key(keyC).exec();
      await waitUntil('the key deleted by hand to come back', async () => (await ec.get(keyC).exec()).kvs.length === 1, 5000, 50);
      expect((await ec.get(keyC).exec()).kvs[0].lease).toBe(leaseC);
      expect(c.logs.some((l) => l.event === 'reregistered')).toBe(true);

      // B is killed outright: no revoke; its key goes when the lease's TTL (3 s) runs out, and only its key.
      b.proc.kill('SIGKILL');
      await exited(b.proc);
      t0 = Date.now();
      await waitUntil('B to leave HAProxy after its TTL', async () => !(await inHaproxy()).includes(b2), 15_000, 50);
      const gone = Date.now() - t0;
      console.log(`etcd register: SIGKILL -> instance out of HAProxy after ${gone} ms (TTL 3000 ms, keepalive every 1000 ms)`);
      // The last keepalive was at most a third of the TTL before the kill.
      expect(gone).toBeGreaterThanOrEqual(1500);
      expect(await inHaproxy()).toEqual([b1, b3].sort((x, y) => x - y));
      expect((await keys('/instances/app/')).sort()).toEqual([`/instances/app/127.0.0.1:${b1}`, `/instances/app/127.0.0.1:${b3}`].sort());

      // SIGTERM revokes the lease: the key goes before the process has exited, long before a TTL.
      for (const r of [a, c]) r.proc.kill('SIGTERM');
      await Promise.all([exited(a.proc), exited(c.proc)]);
      expect(await keys('/instances/app/')).toEqual([]);
      expect(a.proc.exitCode).toBe(0);
      // HAProxy keeps the last servers: without allow_empty an empty list is taken for a fault of the source.
      await agent.waitLog((l) => l.event === 'source_empty' && l.service === 'app', 10_000);
    } finally {
      for (const r of registrars) r.proc.kill('SIGKILL');
      checkA.close();
      await agent.cleanup();
    }
  });

  test('register: after etcd was down longer than the TTL, the lease is granted anew and the key written again', async () => {
    // Its own etcd: this one is killed.
    const own = await new TestEtcd('lost').start();
    const oc = own.client();
    const [b1] = backends.ports;
    const key = `/instances/lost/127.0.0.1:${b1}`;
    // The instance itself stays healthy (a backend, not etcd, is checked).
    const r = startRegister(['--etcd', own.endpoint, '--prefix', '/instances/lost', '--address', '127.0.0.1', '--port', String(b1), '--interval-ms', '100', '--ttl', '2']);
    try {
      await waitUntil('the instance to be registered', async () => (await oc.get(key).exec()).kvs.length === 1, 10_000, 50);
      const before = (await oc.get(key).exec()).kvs[0].lease;
      await own.stop();
      // Longer than twice the TTL: the client gives the lease up.
      await waitUntil('the register process to see the lease lost', () => r.logs.some((l) => l.event === 'lease_lost'), 15_000, 50);
      await own.start();
      const t0 = Date.now();
      await waitUntil('the key back on a new lease', async () => {
        const kv = (await oc.get(key).exec().catch(() => undefined))?.kvs[0];
        return !!kv && kv.lease !== before;
      }, 15_000, 50);
      console.log(`etcd register: etcd back -> key written again on a new lease after ${Date.now() - t0} ms`);
      // The outage is logged when it starts, not at every interval.
      const errors = r.logs.filter((l) => l.event === 'register_error');
      expect(errors.length).toBeLessThanOrEqual(3);
      expect(JSON.stringify(errors)).toContain(own.endpoint);
      r.proc.kill('SIGTERM');
      await exited(r.proc);
      expect((await oc.get(key).exec()).kvs).toEqual([]);
    } finally {
      r.proc.kill('SIGKILL');
      oc.close();
      await own.cleanup();
    }
  });
});
