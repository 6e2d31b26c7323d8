import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeClient } from '../../src/haproxy/runtime-client';
import { serverName } from '../../src/model/server';
import { AgentFixture, CLI } from '../support/agent';
import { startLoad } from '../support/load';
import { freePorts, sample, waitUntil } from '../support/net';
import { killChild } from '../support/process';
import { TestZooKeeper } from '../support/zookeeper';

/**
 * HTTP servers on unix sockets in `dir`, each answering its own name; keep-alive off, so every request is a new
 * connection. HAProxy drops root (to haproxy or nobody) and connecting to a socket takes write permission on it,
 * so the sockets are opened to everyone, as a backend's socket must be to HAProxy's account.
 */
async function socketBackends(dir: string, names: string[]) {
  chmodSync(dir, 0o755);
  const servers = await Promise.all(
    names.map(
      (name) =>
        new Promise<http.Server>((resolve) => {
          const srv = http.createServer((_req, res) => {
            res.setHeader('connection', 'close');
            res.end(`${name}\n`);
          });
          srv.listen(join(dir, `${name}.sock`), () => {
            chmodSync(join(dir, `${name}.sock`), 0o666);
            resolve(srv);
          });
        }),
    ),
  );
  return {
    address: (name: string) => `unix:${join(dir, `${name}.sock`)}`,
    close: () => Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r))))),
  };
}

/** GET / from `host` (an IPv6 literal is bracketed) on a fresh connection. */
function getFrom(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const answers = (host: string, port: number) => getFrom(host, port).then(() => true, () => false);

/** The agent's proxymgr.yml with a bind address set (the fixture writes the `haproxy:` block first). */
function bindOn(agent: AgentFixture, address: string): void {
  writeFileSync(agent.configFile, readFileSync(agent.configFile, 'utf8').replace('haproxy:\n', `haproxy:\n  bind_address: "${address}"\n`));
}

describe('unix socket and IPv6 backends', () => {
  // Short: HAProxy takes socket paths of at most 97 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-ux-'));
  let sockets: Awaited<ReturnType<typeof socketBackends>>;
  let agent: AgentFixture | undefined;

  beforeAll(async () => {
    sockets = await socketBackends(dir, ['a', 'b', 'c']);
  });
  afterAll(async () => {
    await sockets.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await agent?.cleanup();
    agent = undefined;
  });

  test('static and servers-file services on unix sockets: served, changed at runtime under load, left alone by the drift pass, kept across a reload', async () => {
    const [A, B, C] = ['a', 'b', 'c'].map((n) => sockets.address(n));
    const [nameA, nameB, nameC] = [A, B, C].map((address) => serverName({ address, port: 0 }));
    const [staticPort, filePort] = await freePorts(2);
    const file = join(dir, 'f.servers');
    writeFileSync(file, `# one socket\n${A}\n`);
    agent = new AgentFixture({
      services: {
        st: { type: 'static', port: staticPort, servers: [A, { address: B, weight: 2 }] },
        fs: { type: 'file', port: filePort, file },
      },
      runtime: { drift_interval_ms: 300 },
    });
    await agent.start();
    expect(await sample(staticPort, 6)).toEqual(new Set(['a', 'b']));
    expect(await sample(filePort, 3)).toEqual(new Set(['a']));
    const rc = new RuntimeClient(agent.socketPath);
    // HAProxy reports a socket server with address "-" and port 0.
    expect((await rc.showServersState('st')).map((s) => [s.name, s.address, s.port, s.weight])).toEqual([
      [nameA, '-', 0, 1],
      [nameB, '-', 0, 2],
    ]);
    const pid = await agent.haproxyPid();
    let from = agent.mark();

    // The servers file gains a socket, then loses one, under load: runtime API, no reload, no failed request.
    const load = startLoad(filePort, 4, 60_000);
    writeFileSync(file, `${A}\n${C} 3\n`);
    await waitUntil('c to serve', async () => (await sample(filePort, 8)).has('c'), 15_000);
    writeFileSync(file, `${C} 3\n`);
    await waitUntil('a to leave', async () => !(await sample(filePort, 8)).has('a'), 15_000);
    const result = await load.stop();
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(0);
    expect(agent.events('reload', from)).toHaveLength(0);
    expect(await agent.haproxyPid()).toBe(pid);
    await agent.waitLog((l) => l.event === 'plan' && JSON.stringify(l.changes).includes('removed'), 2000, from);
    const plans = agent.events('plan', from).flatMap((p) => p.changes as Array<{ service: string; added?: string[]; removed?: string[] }>);
    expect(plans).toEqual(expect.arrayContaining([{ service: 'fs', added: [nameC] }, { service: 'fs', removed: [nameA] }]));

    // A delete refused while the load's connections were attached is retried (by a later pass, maybe a drift pass):
    // wait for it, then drift passes find the socket servers in line: no repair, pass after pass.
    await waitUntil('a to be deleted', async () => !(await rc.showServersState('fs')).some((s) => s.name === nameA), 15_000);
    // HAProxy answers before the pass that deleted it has logged: start counting after the next whole drift pass.
    const deleted = agent.mark();
    await waitUntil('a drift pass after the delete', () => agent!.events('runtime_swept', deleted).some((l) => l.trigger === 'drift'), 15_000);
    from = agent.mark();
    await waitUntil('three drift passes', () => agent!.events('runtime_swept', from).filter((l) => l.trigger === 'drift').length >= 3, 15_000);
    expect(agent.events('drift_repaired', from)).toHaveLength(0);
    expect(agent.events('plan', from)).toHaveLength(0);

    // A socket server put in maint by hand is repaired once, then left alone.
    from = agent.mark();
    expect((await rc.batch([`set server st/${nameB} state maint`]))[0].ok).toBe(true);
    const repaired = await agent.waitLog((l) => l.event === 'drift_repaired', 10_000, from);
    expect(repaired.changes).toEqual([{ service: 'st', returning: [nameB] }]);
    const after = agent.mark();
    await waitUntil('three more drift passes', () => agent!.events('runtime_swept', after).filter((l) => l.trigger === 'drift').length >= 3, 15_000);
    expect(agent.events('drift_repaired', from)).toHaveLength(1);

    // A reload (the static service reconfigured): its socket servers come back from the new config, and the file
    // service's runtime-added one from it too; the check after the reload finds nothing to do.
    from = agent.mark();
    agent.writeService('st', { type: 'static', port: staticPort, servers: [A, { address: B, weight: 2 }, C], listen_options: ['option forwardfor'] });
    await agent.waitLog((l) => l.event === 'reload', 15_000, from);
    await waitUntil('c to serve on st', async () => (await sample(staticPort, 9)).has('c'), 15_000);
    expect(await sample(filePort, 4)).toEqual(new Set(['c']));
    expect((await rc.showServersState('fs')).map((s) => [s.name, s.weight, s.maint])).toEqual([[nameC, 3, false]]);
    const quiet = agent.mark();
    await waitUntil('two drift passes after the reload', () => agent!.events('runtime_swept', quiet).filter((l) => l.trigger === 'drift').length >= 2, 15_000);
    expect(agent.events('plan', from)).toHaveLength(0);
    expect(agent.events('drift_repaired', from)).toHaveLength(0);
  });

  test('a bad socket address disables only its service, with an error naming the entry', async () => {
    const [okPort, badPort] = await freePorts(2);
    agent = new AgentFixture({
      services: {
        ok: { type: 'static', port: okPort, servers: [sockets.address('a')] },
        bad: { type: 'static', port: badPort, servers: [sockets.address('a'), 'unix:/run/../app.sock'] },
      },
    });
    await agent.start();
    const invalid = await agent.waitLog((l) => l.event === 'service_invalid' && l.service === 'bad', 10_000);
    expect(JSON.stringify(invalid)).toContain('servers[1]: invalid unix socket address \\"unix:/run/../app.sock\\": the socket path must be normalised');
    expect(await sample(okPort, 2)).toEqual(new Set(['a']));
    expect(await answers('127.0.0.1', badPort)).toBe(false);
  });

  test('a ZooKeeper instance on a unix socket, in the ProxyMgr JSON and plain forms and from `proxymgr register`, joins without a reload', async () => {
    const zk = await new TestZooKeeper().start();
    const zc = await zk.client();
    try {
      const [port] = await freePorts(1);
      const root = `/ux${Date.now()}`;
      await zc.put(`${root}/instances/web/i1`, { address: sockets.address('a') });
      agent = new AgentFixture({ services: { web: { type: 'zookeeper', server: zk.connectString, path: `${root}/instances/web`, port } } });
      await agent.start();
      expect(await sample(port, 3)).toEqual(new Set(['a']));
      const from = agent.mark();
      await zc.put(`${root}/instances/web/i2`, `${sockets.address('b')} 2`);
      await zc.put(`${root}/instances/web/i3`, { address: sockets.address('c'), port: 80 });
      await waitUntil('b to serve', async () => (await sample(port, 8)).has('b'), 15_000);
      const skipped = await agent.waitLog((l) => l.event === 'instance_invalid' && String(l.znode).endsWith('/i3'), 10_000, from);
      expect(skipped.error).toBe('a unix socket address takes no port, got port 80');

      // `proxymgr register` keeps an instance of socket c while a connect to it succeeds.
      const reg = spawn(process.execPath, [CLI, 'register', '--zk', zk.connectString, '--path', `${root}/instances/web`, '--address', sockets.address('c'), '--interval-ms', '100'], { stdio: 'ignore' });
      try {
        await waitUntil('c to serve', async () => (await sample(port, 9)).has('c'), 15_000);
        expect(await zc.children(`${root}/instances/web`)).toContain(serverName({ address: sockets.address('c'), port: 0 }));
      } finally {
        await killChild(reg);
      }
      expect(agent.events('reload', from)).toHaveLength(0);
    } finally {
      zc.close();
      await zk.cleanup();
    }
  });

  test('bind_address ::1: services listen on [::1]:port (not on 127.0.0.1), with IPv6 servers, across a reload', async () => {
    const backend = http.createServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('six\n');
    });
    const [webPort, apiPort, backendPort] = await freePorts(3);
    await new Promise<void>((r) => backend.listen(backendPort, '::1', r));
    try {
      agent = new AgentFixture({ services: { web: { type: 'static', port: webPort, servers: [`[::1]:${backendPort}`, sockets.address('a')] } } });
      bindOn(agent, '::1');
      await agent.start();
      expect(readFileSync(agent.configPath, 'utf8')).toContain(`bind [::1]:${webPort}`);
      await waitUntil('both servers to answer on [::1]', async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 6; i++) seen.add(await getFrom('::1', webPort).catch((err: Error) => err.message));
        return seen.has('six') && seen.has('a');
      }, 10_000);
      expect(await answers('127.0.0.1', webPort)).toBe(false);

      // A second service: a reload, whose new process takes over the v6 listener; the first keeps answering throughout.
      const from = agent.mark();
      agent.writeService('api', { type: 'static', port: apiPort, servers: [`[::1]:${backendPort}`] });
      await agent.waitLog((l) => l.event === 'reload', 15_000, from);
      await waitUntil('api to answer on [::1]', () => answers('::1', apiPort), 10_000);
      expect(await getFrom('::1', apiPort)).toBe('six');
      expect(await answers('::1', webPort)).toBe(true);
    } finally {
      await new Promise((r) => (backend.closeAllConnections(), backend.close(r)));
    }
  });

  test('bind_address ::: every address, IPv6 and (with the kernel default bindv6only=0) IPv4', async () => {
    const [port] = await freePorts(1);
    agent = new AgentFixture({ services: { web: { type: 'static', port, servers: [sockets.address('b')] } } });
    bindOn(agent, '::');
    await agent.start();
    expect(readFileSync(agent.configPath, 'utf8')).toContain(`bind [::]:${port}`);
    await waitUntil('an answer on [::1]', () => answers('::1', port), 10_000);
    expect(await getFrom('::1', port)).toBe('b');
    if (readFileSync('/proc/sys/net/ipv6/bindv6only', 'utf8').trim() === '0') expect(await getFrom('127.0.0.1', port)).toBe('b');
  });
});
