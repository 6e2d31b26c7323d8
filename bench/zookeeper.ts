/**
 * ZooKeeper propagation: an instance znode created or deleted, to the change being
 * visible in HAProxy's `show servers state`; beside the raw ZooKeeper watch latency
 * (create -> children watch fires in another client) measured in the same run,
 * which is the physical limit.
 *
 *   npm run bench            (BENCH_ZK_EVENTS=1000 by default; BENCH_QUICK=1 for 200)
 */
import { AgentFixture } from '../test/support/agent';
import { startBackends } from '../test/support/backends';
import { freePort } from '../test/support/net';
import { TestZooKeeper } from '../test/support/zookeeper';
import { RuntimeClient } from '../src/haproxy/runtime-client';

import { ms, runAlone, size, summarize, table, type Bench } from './lib/report';

const EVENTS = size('BENCH_ZK_EVENTS', 1000, 200);

async function rawWatch(zk: TestZooKeeper): Promise<number[]> {
  const writer = await zk.client();
  const watcher = await zk.client();
  await writer.mkdirp('/raw');
  const out: number[] = [];
  try {
    for (let i = 0; i < EVENTS; i++) {
      const fired = new Promise<void>((resolve) => watcher.client.getChildren('/raw', () => resolve(), () => undefined));
      await new Promise((r) => setTimeout(r, 1)); // let the watch registration reach the server
      const t = performance.now();
      await writer.put(`/raw/n${i}`, 'x');
      await fired;
      out.push(performance.now() - t);
    }
  } finally {
    writer.close();
    watcher.close();
  }
  return out;
}

async function throughAgent(zk: TestZooKeeper, backendPort: number): Promise<{ latencies: number[]; reloads: number }> {
  const zc = await zk.client();
  const port = await freePort();
  await zc.put('/svc/web', { type: 'zookeeper', server: zk.connectString, path: '/inst/web', port });
  await zc.put('/inst/web/base', { address: '127.0.0.1', port: backendPort });
  const agent = new AgentFixture({ serviceConfig: { type: 'zookeeper', servers: zk.connectString, path: '/svc' }, logLevel: 'info', runtime: { drift_interval_ms: 0 } });
  try {
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    const from = agent.mark();
    const latencies: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const add = i % 2 === 0;
      const t = performance.now();
      if (add) await zc.put('/inst/web/extra', { address: '127.0.0.2', port: backendPort });
      else await zc.remove('/inst/web/extra');
      const want = add ? 2 : 1;
      while ((await client.showServersState('web')).filter((s) => !s.maint).length !== want);
      latencies.push(performance.now() - t);
    }
    return { latencies, reloads: agent.events('reload', from).length };
  } finally {
    zc.close();
    await agent.cleanup();
  }
}

async function run(): Promise<string> {
  const zk = await new TestZooKeeper().start();
  const backends = await startBackends(1);
  try {
    const raw = summarize(await rawWatch(zk));
    const run = await throughAgent(zk, backends.ports[0]);
    const ours = summarize(run.latencies);
    const rows: Array<Array<string | number>> = (['p50', 'p90', 'p99', 'max'] as const).map((k) => [`${k} (ms)`, ms(ours[k]), ms(raw[k]), k === 'max' ? '' : ms(ours[k] - raw[k])]);
    rows.push(['reloads', run.reloads, '', '']);
    return [
      `ZooKeeper 3.8 standalone on 127.0.0.1, ${EVENTS} events (an instance znode created or deleted; the next one starts when HAProxy shows the previous).`,
      '',
      table(['metric', 'znode write -> HAProxy runtime state', 'raw ZooKeeper watch (limit)', 'proxymgr overhead'], rows),
    ].join('\n');
  } finally {
    await backends.close();
    await zk.cleanup();
  }
}

export const zookeeper: Bench = { title: 'ZooKeeper propagation (`bench/zookeeper.ts`)', run };

if (require.main === module) runAlone(zookeeper);
