/**
 * Propagation and reloads under churn: time from a source event (a service file
 * written) to the change being visible in HAProxy's `show servers state`, and the
 * reloads it cost. Events cycle through: a server added, a weight changed, a server
 * removed. proxymgr (runtime API) against a baseline that renders and reloads on every
 * change (ProxyMgr's way: the same agent with `runtime.enabled: false`), beside the
 * admin socket's own round trip (the limit), all in one run.
 *
 *   npm run bench            (BENCH_EVENTS=1000; BENCH_QUICK=1 for 200)
 */
import { AgentFixture } from '../test/support/agent';
import { startBackends } from '../test/support/backends';
import { freePort } from '../test/support/net';
import { RuntimeClient } from '../src/haproxy/runtime-client';
import type { ActualServer } from '../src/model/actual';
import { haproxyBinaries, shortVersion } from './lib/haproxy-versions';
import { ms, ratio, runAlone, size, summarize, table, type Bench } from './lib/report';

const EVENTS = size('BENCH_EVENTS', 1000, 200);

interface Run {
  latencies: number[];
  reloads: number;
  totalMs: number;
}

/** The servers (port -> weight) after event `i`: a cycle of add, reweigh, remove. */
function serversAfter(i: number, ports: number[]): Map<number, number> {
  const phase = i % 3; // 0: third server added, 1: first server's weight 3, 2: back to the start
  const out = new Map<number, number>([
    [ports[0], phase === 1 ? 3 : 1],
    [ports[1], 1],
  ]);
  if (phase !== 2) out.set(ports[2], 1);
  return out;
}

function matches(state: ActualServer[], want: Map<number, number>): boolean {
  const live = state.filter((s) => !s.maint);
  return live.length === want.size && live.every((s) => want.get(s.port) === s.weight);
}

async function measure(runtimeEnabled: boolean, ports: number[], haproxyPath: string): Promise<Run> {
  const port = await freePort();
  const blob = (want: Map<number, number>) => ({
    type: 'static',
    port,
    servers: [...want].map(([p, weight]) => ({ address: '127.0.0.1', port: p, weight })),
  });
  const agent = new AgentFixture({
    services: { web: blob(serversAfter(2, ports)) },
    // Fastest settings for both: no coalescing delay, no reload spacing.
    reload: { quiet_ms: 0, max_wait_ms: 0, min_interval_ms: 0 },
    runtime: { enabled: runtimeEnabled, drift_interval_ms: 0 },
    logLevel: 'info',
    haproxyPath,
  });
  try {
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const latencies: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < EVENTS; i++) {
      const want = serversAfter(i, ports);
      const start = performance.now();
      agent.writeService('web', blob(want));
      while (!matches(await client.showServersState('web').catch(() => []), want));
      latencies.push(performance.now() - start);
    }
    return { latencies, reloads: agent.events('reload', from).length, totalMs: performance.now() - t0 };
  } finally {
    await agent.cleanup();
  }
}

async function socketRoundTrip(haproxyPath: string): Promise<number[]> {
  const port = await freePort();
  const agent = new AgentFixture({ services: { web: { type: 'static', port, servers: ['127.0.0.1:1'] } }, logLevel: 'info', haproxyPath });
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

async function run(): Promise<string> {
  const backends = await startBackends(3);
  try {
    const counts = { membership: 0, weight: 0 };
    for (let i = 0; i < EVENTS; i++) {
      if (i % 3 !== 1) counts.membership++;
      if (i % 3 !== 0) counts.weight++;
    }
    const rows: Array<Array<string | number>> = [];
    // One block of rows per HAProxy version (2.6 on PATH, 3.0 from scripts/haproxy-3.0.sh when installed).
    for (const h of haproxyBinaries()) {
      const v = shortVersion(h.version);
      const rtt = summarize(await socketRoundTrip(h.binary));
      const oursRun = await measure(true, backends.ports, h.binary);
      const baseRun = await measure(false, backends.ports, h.binary);
      const ours = summarize(oursRun.latencies);
      const base = summarize(baseRun.latencies);
      for (const k of ['p50', 'p90', 'p99', 'max'] as const) rows.push([v, `propagation ${k} (ms)`, ms(ours[k]), ms(base[k]), ratio(ours[k], base[k]), ms(rtt[k])]);
      rows.push([v, 'reloads', oursRun.reloads, baseRun.reloads, '', '']);
      rows.push([v, 'events per second', (EVENTS / (oursRun.totalMs / 1000)).toFixed(0), (EVENTS / (baseRun.totalMs / 1000)).toFixed(0), ratio(EVENTS / (baseRun.totalMs / 1000), EVENTS / (oursRun.totalMs / 1000)), '']);
    }
    return [
      `${EVENTS} service-file writes on one service, cycling through: a server added; a weight changed; the server removed and the weight restored (${counts.membership} membership and ${counts.weight} weight changes). Visible = \`show servers state\` shows every server with its weight; the next write starts when the previous one is visible.`,
      '',
      table(['HAProxy', 'metric', 'proxymgr (runtime API)', 'baseline (reload per change)', 'baseline / proxymgr', 'socket round trip (limit)'], rows),
    ].join('\n');
  } finally {
    await backends.close();
  }
}

export const propagation: Bench = { title: 'Propagation and reloads under churn: runtime API against a reload per change (`bench/propagation.ts`)', run };

if (require.main === module) runAlone(propagation);
