/**
 * Reload safety: new connections arrive continuously (thousands per second) while
 * HAProxy is reloaded again and again. proxymgr hands the listening sockets to the new
 * process (`-x admin.sock -sf old`); the baselines are a plain stop-and-start, and
 * HAProxy's soft reload without the socket handoff (`-sf old` alone), in the same run.
 *
 *   npm run bench            (BENCH_RELOADS=200; BENCH_QUICK=1 for 50)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentFixture } from '../test/support/agent';
import { freePort, waitUntil } from '../test/support/net';
import { showInfo } from '../src/haproxy/runtime-client';
import { connLoad, type ConnLoadResult } from './lib/conn-load';
import { haproxyBinaries, shortVersion } from './lib/haproxy-versions';
import { runAlone, size, table, type Bench } from './lib/report';

const RELOADS = size('BENCH_RELOADS', 200, 50);
const CONCURRENCY = 32;
// HAProxy answers by itself, so the load measures the listening side, which is what a reload touches.
const ANSWER = 'http-request return status 200 content-type text/plain string ok';
const GLOBAL = ['maxconn 4096']; // the agent's default
const DEFAULTS = ['mode http', 'timeout connect 1s', 'timeout client 10s', 'timeout server 10s'];

interface Outcome {
  method: string;
  reloads: number;
  load: ConnLoadResult;
}

async function agentReloads(haproxyPath: string): Promise<Outcome> {
  const port = await freePort();
  // A changed listen option always needs a reload, whatever the runtime API could do.
  const svc = (gen: number) => ({ type: 'static', port, listen_options: [ANSWER, `http-response set-header X-Generation ${gen}`], servers: ['127.0.0.1:1'] });
  const agent = new AgentFixture({
    services: { web: svc(0) },
    defaults: DEFAULTS,
    reload: { quiet_ms: 0, max_wait_ms: 0, min_interval_ms: 0 },
    logLevel: 'info',
    haproxyPath,
  });
  try {
    await agent.start();
    const load = connLoad(port, CONCURRENCY, 15 * 60_000);
    let reloads = 0;
    for (let gen = 1; gen <= RELOADS; gen++) {
      const from = agent.mark();
      agent.writeService('web', svc(gen));
      const line = await agent.waitLog((l) => l.event === 'reload' || l.event === 'apply_failed', 10_000, from);
      if (line.event === 'reload') reloads++;
      await new Promise((r) => setTimeout(r, 20));
    }
    return { method: 'proxymgr: socket handoff (`-x sock -sf old`)', reloads, load: await load.stop() };
  } finally {
    await agent.cleanup();
  }
}

/** HAProxy run by hand from a fixed config, reloaded the way `how` says. */
async function plainReloads(how: 'stop-start' | 'sf', binary: string): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-bench-'));
  const port = await freePort();
  const sock = join(dir, 'admin.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    ['global', ...GLOBAL.map((g) => `    ${g}`), `    stats socket ${sock} mode 600 level admin`, 'defaults', ...DEFAULTS.map((d) => `    ${d}`), 'listen web', `    bind 127.0.0.1:${port}`, `    ${ANSWER}`, ''].join('\n'),
  );
  const procs = new Set<ChildProcess>();
  const startOne = async (extra: string[]) => {
    const p = spawn(binary, ['-db', '-f', cfg, ...extra], { stdio: 'ignore' });
    procs.add(p);
    p.once('exit', () => procs.delete(p));
    await waitUntil('haproxy to answer', async () => Number((await showInfo(sock, 200).catch(() => ({ Pid: '0' }))).Pid) === p.pid, 5000, 2);
    return p;
  };
  try {
    let proc = await startOne([]);
    const load = connLoad(port, CONCURRENCY, 15 * 60_000);
    for (let i = 0; i < RELOADS; i++) {
      const old = proc;
      if (how === 'stop-start') {
        await new Promise((r) => {
          old.once('exit', r);
          old.kill('SIGTERM');
        });
        proc = await startOne([]);
      } else {
        proc = await startOne(['-sf', String(old.pid)]);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await load.stop();
    return { method: how === 'stop-start' ? 'baseline: stop, then start' : 'baseline: soft reload without handoff (`-sf old`)', reloads: RELOADS, load: result };
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(): Promise<string> {
  // Every method on each HAProxy version (2.6 on PATH, 3.0 from scripts/haproxy-3.0.sh when installed).
  const outcomes: Array<Outcome & { version: string }> = [];
  for (const h of haproxyBinaries()) {
    const version = shortVersion(h.version);
    outcomes.push({ version, ...(await agentReloads(h.binary)) }, { version, ...(await plainReloads('stop-start', h.binary)) }, { version, ...(await plainReloads('sf', h.binary)) });
  }
  const rows = outcomes.map((o) => [
    o.version,
    o.method,
    o.reloads,
    o.load.ok + o.load.failed,
    o.load.perSecond,
    o.load.failed,
    ((o.load.failed / Math.max(1, o.load.ok + o.load.failed)) * 100).toFixed(3) + ' %',
    Object.entries(o.load.errors).map(([k, v]) => `${k} ${v}`).join(', ') || '–',
  ]);
  return [
    `${RELOADS} reloads while ${CONCURRENCY} loops open new TCP connections to 127.0.0.1 (one HTTP/1.0 request each, answered by HAProxy itself); every refused, reset or non-200 connection counts as failed.`,
    '',
    table(['HAProxy', 'reload method', 'reloads', 'connections', 'per second', 'failed', 'failed share', 'failure kinds'], rows),
  ].join('\n');
}

export const reloadSafety: Bench = { title: 'Reload safety under continuous new connections (`bench/reload-safety.ts`)', run };

if (require.main === module) runAlone(reloadSafety);
