/**
 * etcd propagation, beside a raw etcd watch and beside ZooKeeper, in one run.
 *
 * 1. Churn: the same change (an instance added, its weight changed, removed) made three ways,
 *    interleaved event by event so that all three see the same machine at the same time:
 *    - raw etcd watch: a put or delete by one etcd3 client, to the event arriving in another
 *      client watching the prefix (the physical limit of the etcd path);
 *    - proxymgr etcd: the key written in etcd, to HAProxy's `show servers state` showing it,
 *      through an agent whose service has an `etcd` watcher;
 *    - proxymgr zookeeper: the znode written, to HAProxy, through an agent with a `zookeeper` watcher.
 *    Each time starts on the client side before the write call. A light paced load runs through
 *    both agents' HAProxy meanwhile (failed requests counted). The agents' CPU time per change.
 * 2. Idle: 100 services x 20 servers in etcd (one prefix each) and the same in ZooKeeper, each
 *    served by its own agent, then every agent idle for 30 s: CPU (% of one core) and RSS, beside
 *    the one-service agents of step 1 in the same window, so what a service adds shows; then
 *    each agent's V8 heap, and the watcher's cache alone per service (bench/lib/watch-heap.ts);
 *    the connections each agent holds and the watches etcd and ZooKeeper keep for them.
 * Where the time goes: the agents' own /metrics (propagation and runtime-update histograms)
 * split each change into the part inside the agent and the part before it. Nothing is asserted.
 *
 *   npm run bench                       (BENCH_ETCD_EVENTS=1000 per row; BENCH_QUICK=1 for 200)
 *   BENCH_ONLY=etcd npm run bench       this section alone in the suite
 *   node .tmp/bench/bench/etcd.js       this section alone (after tsc -p tsconfig.bench.json)
 *   BENCH_ETCD_SERVICES=1000, BENCH_ETCD_IDLE_S=60, BENCH_ETCD_LOAD=0   other sizes, no load
 */
import http from 'node:http';
import { connect } from 'node:net';
import { cpus } from 'node:os';
import type { Client } from 'node-zookeeper-client';
import type { Etcd3 } from 'etcd3';
import { AgentFixture } from '../test/support/agent';
import { startBackends } from '../test/support/backends';
import { TestEtcd } from '../test/support/etcd';
import { freePorts } from '../test/support/net';
import { TestZooKeeper, type ZkTestClient } from '../test/support/zookeeper';
import { RuntimeClient } from '../src/haproxy/runtime-client';
import type { ActualServer } from '../src/model/actual';
import { connLoadInWorker, type ConnLoadResult } from './lib/conn-load';
import { connectionsTo, pidWithArg } from './lib/procs';
import { ms, rssMb, runAlone, size, summarize, table, type Bench, type Summary } from './lib/report';
import { serviceName, watchHeap, type WatchHeap } from './lib/watch-heap';
import { disturbance, safeCpu, windowOf, within, type Window } from './lib/window';

const EVENTS = size('BENCH_ETCD_EVENTS', 1000, 200);
const IDLE_MS = size('BENCH_ETCD_IDLE_S', 30, 30) * 1000;
const SERVICES = size('BENCH_ETCD_SERVICES', 100, 100);
const SERVERS = 20;
/** Paced load during the churn: LOOPS loops per agent, each a request on a new connection then PAUSE_MS. BENCH_ETCD_LOAD=0: none. */
const LOAD = process.env.BENCH_ETCD_LOAD !== '0';
const LOAD_LOOPS = 2;
const LOAD_PAUSE_MS = 10;
/** After every server is in HAProxy, before the idle window (the start's own work is not idle cost). */
const SETTLE_MS = 5000;
/** Heap readings (one a second) after the idle window; the least is kept. */
const HEAP_READINGS = 10;

type Row = 'raw' | 'etcd' | 'zk';
const ROWS: readonly Row[] = ['raw', 'etcd', 'zk'];
/** Every agent alike: info logs, no drift pass (idle cost is the watchers'), the API on (its /metrics splits the time). */
const AGENT = { logLevel: 'info', runtime: { drift_interval_ms: 0 }, extraYaml: 'api:\n  listen: 127.0.0.1:0' };
const pct50 = (xs: number[]) => summarize(xs).p50;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** `a / b` with two decimals ("1.07x"). */
function per(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

/**
 * Change `k` of a row: 0 adds instance `b` (weight 1), 1 sets its weight to 5, 2 removes it.
 * Instance `a` (weight 1) stays throughout, so the service always has a server.
 */
const phase = (k: number) => k % 3;
function wanted(k: number, ports: { a: number; b: number }): Map<number, number> {
  const out = new Map([[ports.a, 1]]);
  if (phase(k) !== 2) out.set(ports.b, phase(k) === 0 ? 1 : 5);
  return out;
}
const instance = (port: number, weight: number) => JSON.stringify({ address: '127.0.0.1', port, weight });

function matches(state: ActualServer[], want: Map<number, number>): boolean {
  const live = state.filter((s) => !s.maint);
  return live.length === want.size && live.every((s) => want.get(s.port) === s.weight);
}

/** Writes change `k` of key `key` in etcd: a put (create or update) or a delete, one round trip each. */
async function etcdWrite(ec: Etcd3, key: string, k: number, b: number): Promise<void> {
  if (phase(k) === 2) await ec.delete().key(key);
  else await ec.put(key).value(instance(b, phase(k) === 0 ? 1 : 5));
}

/** The same change in ZooKeeper: create, setData or remove, one round trip each (no exists check first). */
function zkWrite(c: Client, path: string, k: number, b: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown) => (err ? reject(err) : resolve());
    if (phase(k) === 0) c.create(path, Buffer.from(instance(b, 1)), done);
    else if (phase(k) === 1) c.setData(path, Buffer.from(instance(b, 5)), -1, done);
    else c.remove(path, -1, done);
  });
}

/** Polls `show servers state` without pause (as bench/zookeeper.ts does) until it matches. */
async function untilVisible(client: RuntimeClient, want: Map<number, number>, t: number, what: string, agent: AgentFixture): Promise<void> {
  while (!matches(await client.showServersState('web').catch(() => []), want)) {
    if (performance.now() - t > 10_000) throw new Error(`${what} not in HAProxy after 10 s; last log lines:\n${agent.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`);
  }
}

/** A gauge of etcd's own /metrics (watch streams and watchers it keeps, for one agent or all). */
function etcdMetrics(endpoint: string): Promise<{ streams: number; watchers: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${endpoint}/metrics`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? NaN);
          resolve({ streams: gauge('etcd_debugging_mvcc_watch_stream_total'), watchers: gauge('etcd_debugging_mvcc_watcher_total') });
        });
      })
      .on('error', reject);
  });
}

/** Sums and counts the agent's /metrics keeps, for the time spent inside it. */
interface AgentTimes {
  /** proxymgr_propagation_seconds{path="runtime"}: a watcher's report to HAProxy's answer to the runtime batch. */
  propagation: { sum: number; count: number };
  /** proxymgr_runtime_update_duration_seconds: one update (read HAProxy's state, plan, send the batch). */
  update: { sum: number; count: number };
  commands: number;
  /** nodejs_heap_size_used_bytes, in MB. */
  heapMb: number;
}

async function agentTimes(agent: AgentFixture): Promise<AgentTimes> {
  const port = Number((await agent.waitLog((l) => l.event === 'api_listening', 10_000)).port);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    propagation: { sum: value('proxymgr_propagation_seconds_sum{path="runtime"}'), count: value('proxymgr_propagation_seconds_count{path="runtime"}') },
    update: { sum: value('proxymgr_runtime_update_duration_seconds_sum'), count: value('proxymgr_runtime_update_duration_seconds_count') },
    commands: value('proxymgr_runtime_commands_total'),
    heapMb: value('nodejs_heap_size_used_bytes') / 2 ** 20,
  };
}

/** Mean ms per event of a sum/count pair between two readings. */
const meanMs = (a: { sum: number; count: number }, b: { sum: number; count: number }) => (1000 * (b.sum - a.sum)) / (b.count - a.count);

/** ZooKeeper's `wchs`: "N connections watching M paths / Total watches: K"; the total. */
function zkWatches(port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('connect', () => s.write('wchs'));
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(Number(/Total watches:\s*(\d+)/.exec(out)?.[1] ?? NaN)));
    s.on('error', () => resolve(NaN));
    s.setTimeout(2000, () => s.destroy());
  });
}

interface Churn {
  latencies: Record<Row, number[]>;
  reloads: { etcd: number; zk: number };
  cpuPerChange: { etcd: number; zk: number };
  load?: { etcd: ConnLoadResult; zk: ConnLoadResult };
  /** Inside each agent over the churn, from its /metrics. */
  inside: { etcd: [AgentTimes, AgentTimes]; zk: [AgentTimes, AgentTimes] };
  window: Window;
}

/** Two agents, one service `web` each (etcd watcher, zookeeper watcher); the three rows interleaved. */
async function churn(etcd: TestEtcd, zc: ZkTestClient, agents: { etcd: AgentFixture; zk: AgentFixture }, pids: number[], ports: { a: number; b: number }, lbPorts: { etcd: number; zk: number }): Promise<Churn> {
  const writer = etcd.client();
  const watching = etcd.client();
  let loads: { etcd: ReturnType<typeof connLoadInWorker>; zk: ReturnType<typeof connLoadInWorker> } | undefined;
  try {
    let arrived: (() => void) | undefined;
    const watcher = await within(watching.watch().prefix('/bench/raw/').create(), 20_000, 'raw etcd watch');
    watcher.on('data', () => {
      const f = arrived;
      arrived = undefined;
      f?.();
    });
    const clients = { etcd: new RuntimeClient(agents.etcd.socketPath), zk: new RuntimeClient(agents.zk.socketPath) };
    const from = { etcd: agents.etcd.mark(), zk: agents.zk.mark() };
    const agentPid = { etcd: agents.etcd.proc!.pid!, zk: agents.zk.proc!.pid! };
    loads = LOAD ? { etcd: connLoadInWorker(lbPorts.etcd, LOAD_LOOPS, 10 * 60_000, LOAD_PAUSE_MS), zk: connLoadInWorker(lbPorts.zk, LOAD_LOOPS, 10 * 60_000, LOAD_PAUSE_MS) } : undefined;
    const latencies: Record<Row, number[]> = { raw: [], etcd: [], zk: [] };
    const inside0 = { etcd: await agentTimes(agents.etcd), zk: await agentTimes(agents.zk) };
    const done = windowOf(() => pids);
    const cpu0 = { etcd: safeCpu(agentPid.etcd), zk: safeCpu(agentPid.zk) };
    for (let i = 0; i < ROWS.length * EVENTS; i++) {
      const row = ROWS[i % ROWS.length];
      const k = Math.floor(i / ROWS.length);
      const what = `change ${k} (${['add', 'weight', 'remove'][phase(k)]}) of ${row}`;
      if (row === 'raw') {
        const fired = new Promise<void>((r) => (arrived = r));
        const t = performance.now();
        await etcdWrite(writer, '/bench/raw/b', k, ports.b);
        await within(fired, 10_000, what);
        latencies.raw.push(performance.now() - t);
      } else {
        const t = performance.now();
        if (row === 'etcd') await etcdWrite(writer, '/bench/churn/b', k, ports.b);
        else await zkWrite(zc.client, '/bench/churn/b', k, ports.b);
        await untilVisible(clients[row], wanted(k, ports), t, what, agents[row]);
        latencies[row].push(performance.now() - t);
      }
    }
    const cpuPerChange = { etcd: (safeCpu(agentPid.etcd) - cpu0.etcd) / EVENTS, zk: (safeCpu(agentPid.zk) - cpu0.zk) / EVENTS };
    const window = done();
    const inside = { etcd: [inside0.etcd, await agentTimes(agents.etcd)] as [AgentTimes, AgentTimes], zk: [inside0.zk, await agentTimes(agents.zk)] as [AgentTimes, AgentTimes] };
    const load = loads ? { etcd: await loads.etcd.stop(), zk: await loads.zk.stop() } : undefined;
    loads = undefined;
    await watcher.cancel();
    return { latencies, reloads: { etcd: agents.etcd.events('reload', from.etcd).length, zk: agents.zk.events('reload', from.zk).length }, cpuPerChange, load, inside, window };
  } finally {
    if (loads) await Promise.all([loads.etcd.stop(), loads.zk.stop()]).catch(() => undefined);
    writer.close();
    watching.close();
  }
}

/** Every service's backend shows its SERVERS servers. */
async function allServing(agent: AgentFixture, names: string[], t0: number): Promise<number> {
  const client = new RuntimeClient(agent.socketPath);
  for (;;) {
    const live = new Map<string, number>();
    for (const s of await client.showServersState().catch(() => [])) if (!s.maint) live.set(s.backend, (live.get(s.backend) ?? 0) + 1);
    if (names.every((n) => live.get(n) === SERVERS)) return performance.now() - t0;
    if (performance.now() - t0 > 120_000) throw new Error(`not every service has its ${SERVERS} servers after 120 s; last log lines:\n${agent.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`);
    await sleep(50);
  }
}

interface Idle {
  /** % of one core over the window, and RSS (MB, the median of a reading a second), per agent. */
  cpuPct: Record<'etcd1' | 'zk1' | 'etcdN' | 'zkN', number>;
  rss: Record<'etcd1' | 'zk1' | 'etcdN' | 'zkN', number>;
  /** V8 heap in use (MB), the least of HEAP_READINGS after the window: about the live heap after a collection, still within a few MB. So the watcher's own share is measured apart too (\`bench/lib/watch-heap.ts\`): a child process with one shared client (EtcdClient, ZkSession) starts the watcher's cache (PrefixCache, ChildrenCache) on the first service, collects garbage, reads heapUsed, starts the caches of the other ${SERVICES - 1} services on the same data, waits until each holds its ${SERVERS} servers, collects and reads again. */
  heap: Record<'etcd1' | 'zk1' | 'etcdN' | 'zkN', number>;
  serverCpuPct: { etcd: number; zk: number };
  readyMs: { etcd: number; zk: number };
  connections: Record<'etcd1' | 'zk1' | 'etcdN' | 'zkN', number>;
  etcdWatch: { streams: number; watchers: number };
  zkWatches: number;
  /** The watcher's cache alone, per service (bench/lib/watch-heap.ts). */
  alone: { etcd: WatchHeap; zk: WatchHeap };
  window: Window;
}

/** SERVICES x SERVERS in each store, one agent each; then everything idle for IDLE_MS. */
async function idle(etcd: TestEtcd, zk: TestZooKeeper, zc: ZkTestClient, small: { etcd: AgentFixture; zk: AgentFixture }, pids: { etcd: number; zk: number }, lbPorts: number[]): Promise<Idle> {
  const names = Array.from({ length: SERVICES }, (_, i) => serviceName(i));
  const value = (j: number) => instance(20_000 + j, 1);
  const ec = etcd.client();
  try {
    for (const n of names) await Promise.all(Array.from({ length: SERVERS }, (_, j) => ec.put(`/bench/scale/${n}/i${j}`).value(value(j))));
  } finally {
    ec.close();
  }
  for (const n of names) {
    await zc.mkdirp(`/bench/scale/${n}`);
    await Promise.all(Array.from({ length: SERVERS }, (_, j) => new Promise<void>((resolve, reject) => zc.client.create(`/bench/scale/${n}/i${j}`, Buffer.from(value(j)), (e) => (e ? reject(e) : resolve())))));
  }
  const big = {
    etcd: new AgentFixture({ ...AGENT, services: Object.fromEntries(names.map((n, i) => [n, { type: 'etcd', endpoints: [etcd.endpoint], prefix: `/bench/scale/${n}`, port: lbPorts[i] }])) }),
    zk: new AgentFixture({ ...AGENT, services: Object.fromEntries(names.map((n, i) => [n, { type: 'zookeeper', server: zk.connectString, path: `/bench/scale/${n}`, port: lbPorts[SERVICES + i] }])) }),
  };
  try {
    const before = { etcd: await etcdMetrics(etcd.endpoint), zk: await zkWatches(zk.port) };
    let t0 = performance.now();
    await big.etcd.start();
    const etcdReady = await allServing(big.etcd, names, t0);
    t0 = performance.now();
    await big.zk.start();
    const zkReady = await allServing(big.zk, names, t0);
    const after = { etcd: await etcdMetrics(etcd.endpoint), zk: await zkWatches(zk.port) };
    await sleep(SETTLE_MS);
    const agents = { etcd1: small.etcd, zk1: small.zk, etcdN: big.etcd, zkN: big.zk };
    const keys = Object.keys(agents) as Array<keyof typeof agents>;
    const pid = Object.fromEntries(keys.map((k) => [k, agents[k].proc!.pid!])) as Record<keyof typeof agents, number>;
    const haproxy = await Promise.all(keys.map((k) => agents[k].haproxyPid()));
    const done = windowOf(() => [...keys.map((k) => pid[k]), ...haproxy, pids.etcd, pids.zk]);
    const cpu0 = keys.map((k) => safeCpu(pid[k]));
    const server0 = { etcd: safeCpu(pids.etcd), zk: safeCpu(pids.zk) };
    const t = performance.now();
    // RSS moves with every garbage collection: a reading a second, the median kept.
    const samples = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<keyof typeof agents, number[]>;
    while (performance.now() - t < IDLE_MS) {
      await sleep(Math.min(1000, IDLE_MS - (performance.now() - t)));
      for (const k of keys) samples[k].push(rssMb(pid[k]));
    }
    const wall = performance.now() - t;
    const pct = (x: number) => (100 * x) / wall;
    const cpuPct = Object.fromEntries(keys.map((k, i) => [k, pct(safeCpu(pid[k]) - cpu0[i])])) as Idle['cpuPct'];
    const serverCpuPct = { etcd: pct(safeCpu(pids.etcd) - server0.etcd), zk: pct(safeCpu(pids.zk) - server0.zk) };
    const window = done();
    const rss = Object.fromEntries(keys.map((k) => [k, pct50(samples[k])])) as Idle['rss'];
    // After the window: a scrape costs the agent CPU, which the window must not count.
    const heaps = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<keyof typeof agents, number[]>;
    for (let r = 0; r < HEAP_READINGS; r++) {
      for (const k of keys) heaps[k].push((await agentTimes(agents[k])).heapMb);
      await sleep(1000);
    }
    const heap = Object.fromEntries(keys.map((k) => [k, Math.min(...heaps[k])])) as Idle['heap'];
    const alone = { etcd: await watchHeap('etcd', etcd.endpoint, '/bench/scale', SERVICES, SERVERS), zk: await watchHeap('zookeeper', zk.connectString, '/bench/scale', SERVICES, SERVERS) };
    const port = { etcd: etcd.clientPort, zk: zk.port };
    const connections = Object.fromEntries(keys.map((k) => [k, connectionsTo(pid[k], port[k.startsWith('etcd') ? 'etcd' : 'zk'])])) as Idle['connections'];
    return {
      cpuPct,
      rss,
      heap,
      serverCpuPct,
      readyMs: { etcd: etcdReady, zk: zkReady },
      connections,
      etcdWatch: { streams: after.etcd.streams - before.etcd.streams, watchers: after.etcd.watchers - before.etcd.watchers },
      zkWatches: after.zk - before.zk,
      alone,
      window,
    };
  } finally {
    await big.etcd.cleanup();
    await big.zk.cleanup();
  }
}

const pcts = ['p50', 'p90', 'p99', 'max'] as const;
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

async function run(): Promise<string> {
  const t0 = performance.now();
  const etcd = await new TestEtcd().start();
  const zk = await new TestZooKeeper().start();
  const setupMs = performance.now() - t0;
  const backends = await startBackends(2);
  const ports = { a: backends.ports[0], b: backends.ports[1] };
  const lbPorts = await freePorts(2 + 2 * SERVICES);
  const zc = await within(zk.client(), 20_000, 'ZooKeeper client');
  const small = {
    etcd: new AgentFixture({ ...AGENT, services: { web: { type: 'etcd', endpoints: [etcd.endpoint], prefix: '/bench/churn', port: lbPorts[0] } } }),
    zk: new AgentFixture({ ...AGENT, services: { web: { type: 'zookeeper', server: zk.connectString, path: '/bench/churn', port: lbPorts[1] } } }),
  };
  try {
    const ec = etcd.client();
    await ec.put('/bench/churn/a').value(instance(ports.a, 1));
    ec.close();
    await zc.mkdirp('/bench/churn');
    await zc.put('/bench/churn/a', instance(ports.a, 1));
    await small.etcd.start();
    await small.zk.start();
    for (const row of ['etcd', 'zk'] as const) await untilVisible(new RuntimeClient(small[row].socketPath), wanted(2, ports), performance.now(), `the base server of ${row}`, small[row]);
    const server = { etcd: pidWithArg(`${etcd.dir}/data`), zk: pidWithArg(`${zk.dir}/zoo.cfg`) };
    const pids = [server.etcd, server.zk, small.etcd.proc!.pid!, small.zk.proc!.pid!, await small.etcd.haproxyPid(), await small.zk.haproxyPid()];
    const c = await churn(etcd, zc, small, pids, ports, { etcd: lbPorts[0], zk: lbPorts[1] });
    const i = await idle(etcd, zk, zc, small, server, lbPorts.slice(2));

    const s = Object.fromEntries(ROWS.map((r) => [r, summarize(c.latencies[r])])) as Record<Row, Summary>;
    const failed = (x?: ConnLoadResult) => (x ? `${x.failed} of ${x.ok + x.failed}` : 'no load');
    const label: Record<Row, string> = { raw: 'raw etcd watch (put -> event in another client)', etcd: 'proxymgr, etcd watcher (put -> HAProxy)', zk: 'proxymgr, zookeeper watcher (write -> HAProxy)' };
    const rows = ROWS.map((r) => [label[r], ...pcts.map((k) => ms(s[r][k])), r === 'raw' ? '–' : c.reloads[r], r === 'raw' ? '–' : failed(c.load?.[r])]);
    const ratios = [
      ['proxymgr etcd / raw etcd watch', ...pcts.map((k) => per(s.etcd[k], s.raw[k]))],
      ['proxymgr etcd − raw etcd watch (ms)', ...pcts.map((k) => (k === 'max' ? '' : ms(s.etcd[k] - s.raw[k])))],
      ['proxymgr etcd / proxymgr zookeeper', ...pcts.map((k) => per(s.etcd[k], s.zk[k]))],
    ];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const m = { raw: mean(c.latencies.raw), etcd: mean(c.latencies.etcd), zk: mean(c.latencies.zk) };
    const agentMs = { etcd: meanMs(c.inside.etcd[0].propagation, c.inside.etcd[1].propagation), zk: meanMs(c.inside.zk[0].propagation, c.inside.zk[1].propagation) };
    const updateMs = { etcd: meanMs(c.inside.etcd[0].update, c.inside.etcd[1].update), zk: meanMs(c.inside.zk[0].update, c.inside.zk[1].update) };
    const perChange = (r: 'etcd' | 'zk', f: (t: AgentTimes) => number) => f(c.inside[r][1]) - f(c.inside[r][0]);
    const where = [
      ['write -> HAProxy, as the bench saw it', ms(m.etcd), ms(m.zk)],
      ['raw etcd watch: put -> event in another client', ms(m.raw), ''],
      ['inside the agent: watcher report -> HAProxy answered the runtime batch (proxymgr_propagation_seconds)', ms(agentMs.etcd), ms(agentMs.zk)],
      ['of which the runtime update itself: read state, plan, send (proxymgr_runtime_update_duration_seconds)', ms(updateMs.etcd), ms(updateMs.zk)],
      ['before the agent: write -> watcher report, plus the poll noticing (the rest)', ms(m.etcd - agentMs.etcd), ms(m.zk - agentMs.zk)],
      ['runtime updates / commands per change', `${(perChange('etcd', (t) => t.update.count) / EVENTS).toFixed(2)} / ${(perChange('etcd', (t) => t.commands) / EVENTS).toFixed(2)}`, `${(perChange('zk', (t) => t.update.count) / EVENTS).toFixed(2)} / ${(perChange('zk', (t) => t.commands) / EVENTS).toFixed(2)}`],
    ];
    const aloneKb = (h: WatchHeap) => (1024 * (h.after - h.before)) / h.caches;
    const slope = (n: number, one: number) => (n - one) / (SERVICES - 1);
    const cost = [
      ['agent CPU per change during the churn (ms)', f2(c.cpuPerChange.etcd), f2(c.cpuPerChange.zk), per(c.cpuPerChange.etcd, c.cpuPerChange.zk)],
      [`start -> all ${SERVICES} x ${SERVERS} servers in HAProxy (ms)`, ms(i.readyMs.etcd), ms(i.readyMs.zk), per(i.readyMs.etcd, i.readyMs.zk)],
      [`idle agent CPU, 1 service (% of one core, ${IDLE_MS / 1000} s)`, f2(i.cpuPct.etcd1), f2(i.cpuPct.zk1), per(i.cpuPct.etcd1, i.cpuPct.zk1)],
      [`idle agent CPU, ${SERVICES} x ${SERVERS} (% of one core, same window)`, f2(i.cpuPct.etcdN), f2(i.cpuPct.zkN), per(i.cpuPct.etcdN, i.cpuPct.zkN)],
      ['idle agent RSS, 1 service (MB, median of the window)', f1(i.rss.etcd1), f1(i.rss.zk1), per(i.rss.etcd1, i.rss.zk1)],
      [`idle agent RSS, ${SERVICES} x ${SERVERS} (MB)`, f1(i.rss.etcdN), f1(i.rss.zkN), per(i.rss.etcdN, i.rss.zkN)],
      ['RSS per further service of 20 servers (MB)', f2(slope(i.rss.etcdN, i.rss.etcd1)), f2(slope(i.rss.zkN, i.rss.zk1)), ''],
      ['V8 heap in use, 1 service (MB, least of 10 readings)', f1(i.heap.etcd1), f1(i.heap.zk1), per(i.heap.etcd1, i.heap.zk1)],
      [`V8 heap in use, ${SERVICES} x ${SERVERS} (MB, least of 10 readings)`, f1(i.heap.etcdN), f1(i.heap.zkN), per(i.heap.etcdN, i.heap.zkN)],
      ['heap per further service of 20 servers (kB)', (1024 * slope(i.heap.etcdN, i.heap.etcd1)).toFixed(0), (1024 * slope(i.heap.zkN, i.heap.zk1)).toFixed(0), per(slope(i.heap.etcdN, i.heap.etcd1), slope(i.heap.zkN, i.heap.zk1))],
      ['the watcher\'s cache alone, heap per service of 20 servers (kB, garbage collected before each reading)', aloneKb(i.alone.etcd).toFixed(1), aloneKb(i.alone.zk).toFixed(1), per(aloneKb(i.alone.etcd), aloneKb(i.alone.zk))],
      [`TCP connections to the store, 1 service / ${SERVICES} services`, `${i.connections.etcd1} / ${i.connections.etcdN}`, `${i.connections.zk1} / ${i.connections.zkN}`, ''],
      [`watches the store keeps for the ${SERVICES}-service agent`, `${i.etcdWatch.watchers} watchers on ${i.etcdWatch.streams} watch stream(s)`, `${i.zkWatches} data watches (\`wchs\`), and a children watch per service`, ''],
      ['store server CPU in the idle window, all agents (% of one core)', f2(i.serverCpuPct.etcd), f2(i.serverCpuPct.zk), ''],
    ];
    const loadText = LOAD ? `A paced load ran through both agents' HAProxy during the churn (${LOAD_LOOPS} loops per agent, each a GET on a new connection then ${LOAD_PAUSE_MS} ms of pause, in a worker thread of the bench so that its sockets do not hold up the main thread that times the events; a refused, reset or non-200 request is failed).` : 'No load ran (BENCH_ETCD_LOAD=0).';
    return [
      `etcd 3.4 single member and ZooKeeper 3.8 standalone on 127.0.0.1, both started by the bench. ${EVENTS} changes per row, the three rows interleaved change by change (raw, etcd, zookeeper, raw, ...) so that they share the machine's state: instance \`b\` added (weight 1), its weight set to 5, removed, and again; instance \`a\` stays. Raw etcd watch: one etcd3 client puts or deletes \`/bench/raw/b\`, time to the watch event in a second etcd3 client watching the prefix. proxymgr: one agent per store, one service each (\`{"type": "etcd", "endpoints": [...], "prefix": "/bench/churn"}\` and \`{"type": "zookeeper", "server": ..., "path": "/bench/churn"}\`, file service config, drift pass off), time from before the write call (etcd: one put or delete; ZooKeeper: one create, setData or remove) to \`show servers state\` (polled without pause) showing every live server with its weight; the next change starts when the previous one is visible. ${loadText}`,
      '',
      table(['path', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)', 'reloads', 'failed requests'], rows),
      '',
      table(['ratio', 'p50', 'p90', 'p99', 'max'], ratios),
      '',
      'Where the time goes (means over the churn, ms): the agents\' own /metrics histograms, read before and after it.',
      '',
      table(['mean (ms)', 'etcd watcher', 'zookeeper watcher'], where),
      '',
      `Agent cost. CPU per change: the agent process's CPU time (/proc/PID/stat, 10 ms ticks) over the churn divided by its ${EVENTS} changes (the churn window's idle share included, see the idle rows). Idle: ${SERVICES} services x ${SERVERS} servers, one etcd prefix or one ZooKeeper path per service, each store's services in its own agent; once every server was in HAProxy and ${SETTLE_MS / 1000} s more, all four agents (these two and the one-service agents of the churn) were left idle for the same ${IDLE_MS / 1000} s window; RSS is the median of a reading a second in it (one reading moves by tens of MB with garbage collection); the V8 heap in use (the agent's nodejs_heap_size_used_bytes) is the least of ${HEAP_READINGS} scrapes of /metrics a second apart after the window, about the live heap after a collection, still within a few MB. So the watcher's own share is measured apart too (\`bench/lib/watch-heap.ts\`): a child process with one shared client (EtcdClient, ZkSession) starts the watcher's cache (PrefixCache, ChildrenCache) on the first service, collects garbage, reads heapUsed, starts the caches of the other ${SERVICES - 1} services on the same data, waits until each holds its ${SERVERS} servers, collects and reads again. Connections: established TCP connections from the agent process to the store's client port (/proc/PID/fd against /proc/net/tcp). Watches: etcd's own gauges etcd_debugging_mvcc_watch_stream_total and etcd_debugging_mvcc_watcher_total, and ZooKeeper's \`wchs\`, before and after that agent started.`,
      '',
      table(['figure', 'etcd watcher', 'zookeeper watcher', 'etcd / zookeeper'], cost),
      '',
      `Machine during the windows (CPU used by processes other than this bench, the stores, the agents and their HAProxy, in cores of ${cpus().length}; steal = CPU the hypervisor withheld; 1-minute load average at start -> end): ${[disturbance('churn', c.window), disturbance('idle', i.window)].join('; ')}. etcd and ZooKeeper start: ${(setupMs / 1000).toFixed(1)} s.`,
    ].join('\n');
  } finally {
    zc.close();
    await small.etcd.cleanup().catch(() => undefined);
    await small.zk.cleanup().catch(() => undefined);
    await backends.close();
    await etcd.cleanup();
    await zk.cleanup();
  }
}

export const etcdPropagation: Bench = { title: 'etcd propagation, beside a raw etcd watch and ZooKeeper (`bench/etcd.ts`)', run };

if (require.main === module) runAlone(etcdPropagation);
