/**
 * Propagation benchmark: time from a source event (a service file written) to the
 * change being visible in HAProxy's `show servers state`, and the reloads it cost.
 * proxymgr (runtime API) against a baseline that renders and reloads on every
 * change (ProxyMgr's way: the same agent with `runtime.enabled: false`), in one run.
 *
 *   npm run bench            (BENCH_EVENTS=500 by default; BENCH_QUICK=1 for 100)
 */
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { AgentFixture } from '../test/support/agent';
import { startBackends } from '../test/support/backends';
import { freePort } from '../test/support/net';
import { RuntimeClient } from '../src/haproxy/runtime-client';

const EVENTS = Number(process.env.BENCH_EVENTS ?? (process.env.BENCH_QUICK ? 100 : 500));

interface Run {
  latencies: number[];
  reloads: number;
  totalMs: number;
}

async function measure(runtimeEnabled: boolean, backendPorts: number[]): Promise<Run> {
  const port = await freePort();
  const list = (n: number) => backendPorts.slice(0, n).map((p) => `127.0.0.1:${p}`);
  const agent = new AgentFixture({
    services: { web: { type: 'static', port, servers: list(2) } },
    // Fastest settings for both: no coalescing delay, no reload spacing.
    reload: { quiet_ms: 0, max_wait_ms: 0, min_interval_ms: 0 },
    runtime: { enabled: runtimeEnabled, drift_interval_ms: 0 },
    logLevel: 'info',
  });
  try {
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const latencies: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < EVENTS; i++) {
      // Alternate between 2 and 3 servers: one server added, then removed.
      const n = i % 2 === 0 ? 3 : 2;
      const start = performance.now();
      agent.writeService('web', { type: 'static', port, servers: list(n) });
      for (;;) {
        const st = await client.showServersState('web').catch(() => []);
        if (st.filter((s) => !s.maint).length === n) break;
      }
      latencies.push(performance.now() - start);
    }
    return { latencies, reloads: agent.events('reload', from).length, totalMs: performance.now() - t0 };
  } finally {
    await agent.cleanup();
  }
}

async function socketRoundTrip(): Promise<number[]> {
  const port = await freePort();
  const agent = new AgentFixture({ services: { web: { type: 'static', port, servers: ['127.0.0.1:1'] } }, logLevel: 'info' });
  try {
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    const out: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const t = performance.now();
      await client.showServersState('web');
      out.push(performance.now() - t);
    }
    return out;
  } finally {
    await agent.cleanup();
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const f = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const backends = await startBackends(3);
  try {
    const rtt = await socketRoundTrip();
    const ours = await measure(true, backends.ports);
    const base = await measure(false, backends.ports);
    const haproxy = execFileSync('haproxy', ['-v']).toString().split('\n')[0].split(' - ')[0];
    const rows: Array<[string, string, string, string, string]> = [];
    for (const [label, p] of [['p50', 50], ['p90', 90], ['p99', 99]] as const) {
      rows.push([`propagation ${label} (ms)`, f(pct(ours.latencies, p)), f(pct(base.latencies, p)), `${(pct(base.latencies, p) / pct(ours.latencies, p)).toFixed(1)}x`, f(pct(rtt, p))]);
    }
    rows.push(['propagation max (ms)', f(Math.max(...ours.latencies)), f(Math.max(...base.latencies)), '', f(Math.max(...rtt))]);
    rows.push(['reloads', String(ours.reloads), String(base.reloads), '', '']);
    rows.push(['events per second', (EVENTS / (ours.totalMs / 1000)).toFixed(0), (EVENTS / (base.totalMs / 1000)).toFixed(0), '', '']);
    const table = [
      `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${haproxy}`,
      `Events: ${EVENTS} service-file writes, each adding or removing one server; visible = \`show servers state\` shows it.`,
      '',
      '| metric | proxymgr (runtime API) | baseline (reload per change) | baseline / proxymgr | socket round trip (limit) |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    process.stdout.write(`${table}\n`);
  } finally {
    await backends.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
