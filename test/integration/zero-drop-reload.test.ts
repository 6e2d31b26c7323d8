import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackends, type Backends } from '../support/backends';
import { AgentFixture } from '../support/agent';
import { HAPROXY } from '../support/haproxy-bin';
import { startLoad } from '../support/load';
import { freePort, waitUntil } from '../support/net';
import { showInfo } from '../../src/haproxy/runtime-client';

const RELOADS = 50;

// Reloads hand the listening sockets from one HAProxy process to the next (-x):
// a client opening connections all the while must never see one refused or reset.
describe('reloads under a continuous stream of new connections', () => {
  let backends: Backends;
  beforeAll(async () => {
    backends = await startBackends(2);
  });
  afterAll(() => backends.close());

  test(`the agent performs ${RELOADS} reloads with 0 failed requests`, async () => {
    const port = await freePort();
    const svc = (gen: number) => ({
      type: 'static',
      port,
      // A changed listen option always needs a reload, whatever the diff engine can do at runtime.
      listen_options: [`http-response set-header X-Generation ${gen}`],
      servers: backends.ports.map((p) => `127.0.0.1:${p}`),
    });
    const agent = new AgentFixture({ services: { web: svc(0) } });
    try {
      await agent.start();
      const load = startLoad(port, 8, 90_000);
      const pids = new Set<number>([await agent.haproxyPid()]);
      for (let gen = 1; gen <= RELOADS; gen++) {
        const from = agent.mark();
        agent.writeService('web', svc(gen));
        const line = await agent.waitLog((l) => l.event === 'reload' || l.event === 'apply_failed', 10_000, from);
        expect(line.event).toBe('reload');
        pids.add(line.pid as number);
        await new Promise((r) => setTimeout(r, 20));
      }
      const result = await load.stop();
      console.log(`agent reloads: ${pids.size - 1}, requests ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)} in ${result.ms} ms`);
      expect(pids.size - 1).toBeGreaterThanOrEqual(RELOADS);
      expect(result.ok).toBeGreaterThan(500);
      expect(result.failed).toBe(0);
    } finally {
      await agent.cleanup();
    }
  });

  test('the same harness sees failures with a plain stop-and-start reload (the test can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-ctl-'));
    const port = await freePort();
    const sock = join(dir, 'admin.sock');
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        `    stats socket ${sock} mode 600 level admin`,
        'defaults',
        '    mode http',
        '    timeout connect 1s',
        '    timeout client 10s',
        '    timeout server 10s',
        'listen web',
        `    bind 127.0.0.1:${port}`,
        ...backends.ports.map((p) => `    server b${p} 127.0.0.1:${p}`),
        '',
      ].join('\n'),
    );
    let proc: ChildProcess | undefined;
    const startOne = async () => {
      const p = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: 'ignore' });
      await waitUntil('haproxy to answer', async () => Number((await showInfo(sock, 200).catch(() => ({ Pid: '0' }))).Pid) === p.pid, 5000, 5);
      return p;
    };
    try {
      proc = await startOne();
      const load = startLoad(port, 8, 60_000);
      for (let i = 0; i < RELOADS; i++) {
        const old = proc;
        await new Promise((r) => {
          old.once('exit', r);
          old.kill('SIGTERM');
        });
        proc = await startOne();
        await new Promise((r) => setTimeout(r, 20));
      }
      const result = await load.stop();
      console.log(`stop-and-start reloads: ${RELOADS}, requests ok ${result.ok}, failed ${result.failed} ${JSON.stringify(result.errors)}`);
      expect(result.failed).toBeGreaterThan(0);
    } finally {
      proc?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
