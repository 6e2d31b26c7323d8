/**
 * ZooKeeper propagation: an instance znode created or deleted, to the change being
 * visible in HAProxy's `show servers state`; beside the raw ZooKeeper watch latency
 * (create -> children watch fires in another client) measured in the same run,
 * which is the physical limit.
 *
 * Each is measured with the watching side on plaintext and on TLS to one ZooKeeper that
 * serves both its clientPort and its secureClientPort (test/support/zookeeper-tls.ts), so
 * that the transport is the only difference: one agent, two services whose watchers name
 * two ensembles of its proxymgr.yml (the plain port, and the secure port with `tls`), the
 * events alternating between them. The writer is plaintext throughout. Then the session
 * connect cost (TCP + TLS handshake + ZooKeeper's session setup), with the CPU it takes.
 * Alongside, how much CPU other processes used during each window (the machine is shared).
 *
 *   npm run bench     (BENCH_ZK_EVENTS=1000 per transport by default; BENCH_QUICK=1 for 200;
 *                      BENCH_ZK_CONNECTS=30 connects per transport, 10 quick)
 *   node .tmp/bench/bench/zookeeper.js    this section alone
 */
import { cpus } from 'node:os';
import type { TLSSocket } from 'node:tls';
import zkLib, { type Client } from 'node-zookeeper-client';
import { AgentFixture } from '../test/support/agent';
import { startBackends } from '../test/support/backends';
import { freePort } from '../test/support/net';
import { makePki, TlsZooKeeper } from '../test/support/zookeeper-tls';
import type { ZkTestClient } from '../test/support/zookeeper';
import { RuntimeClient } from '../src/haproxy/runtime-client';

import { ms, runAlone, size, summarize, table, type Bench, type Summary } from './lib/report';
import { pidWithArg } from './lib/procs';
import { disturbance, ownCpuMs, safeCpu, windowOf, within, type Window } from './lib/window';

const EVENTS = size('BENCH_ZK_EVENTS', 1000, 200);
const CONNECTS = size('BENCH_ZK_CONNECTS', 30, 10);

type Kind = 'plain' | 'tls';
const KINDS: readonly Kind[] = ['plain', 'tls'];

/** `b / a` with two decimals ("1.07x"): TLS against plaintext is near 1 for most rows. */
function times(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0) return '–';
  return `${(b / a).toFixed(2)}x`;
}

/** The ZooKeeper JVM's pid: the java process whose command line names this server's zoo.cfg. */
const zkPid = (zk: TlsZooKeeper): number => pidWithArg(`${zk.dir}/zoo.cfg`);

/** A plaintext write, to a children watch firing in a plaintext or a TLS client: alternating, EVENTS each. */
async function rawWatch(zk: TlsZooKeeper, pid: number): Promise<{ latencies: Record<Kind, number[]>; window: Window }> {
  const writer = await within(zk.client(), 20_000, 'plaintext client');
  const watchers: Record<Kind, ZkTestClient> = { plain: await within(zk.client(), 20_000, 'plaintext client'), tls: await within(zk.tlsTestClient(), 20_000, 'TLS client') };
  await writer.mkdirp('/raw');
  const latencies: Record<Kind, number[]> = { plain: [], tls: [] };
  const done = windowOf(() => [pid]);
  try {
    for (let i = 0; i < 2 * EVENTS; i++) {
      const kind = KINDS[i % 2];
      const fired = new Promise<void>((resolve) => watchers[kind].client.getChildren('/raw', () => resolve(), () => undefined));
      await new Promise((r) => setTimeout(r, 1)); // let the watch registration reach the server
      const t = performance.now();
      await writer.put(`/raw/n${i}`, 'x');
      await within(fired, 10_000, `raw watch ${i} (${kind})`);
      latencies[kind].push(performance.now() - t);
    }
    return { latencies, window: done() };
  } finally {
    writer.close();
    watchers.plain.close();
    watchers.tls.close();
  }
}

/**
 * One agent, services `web-plain` and `web-tls` (file service config), each a zookeeper watcher
 * on its own instance path through ensemble `plain` (clientPort) or `tls` (secureClientPort,
 * verified against the test CA). Events alternate between the two; each waits for HAProxy.
 */
async function throughAgent(zk: TlsZooKeeper, pid: number, backendPort: number): Promise<{ latencies: Record<Kind, number[]>; reloads: number; window: Window }> {
  const zc = await within(zk.client(), 20_000, 'plaintext client');
  const ports: Record<Kind, number> = { plain: await freePort(), tls: await freePort() };
  for (const kind of KINDS) await zc.put(`/inst/${kind}/base`, { address: '127.0.0.1', port: backendPort });
  const ensembles = [
    'zookeeper:',
    '  ensembles:',
    '    plain:',
    `      servers: "${zk.connectString}"`,
    '    tls:',
    `      servers: "${zk.secureConnectString}"`,
    '      tls:',
    `        ca_file: "${zk.pki.caPem}"`,
  ].join('\n');
  const services = Object.fromEntries(KINDS.map((kind) => [`web-${kind}`, { type: 'zookeeper', ensemble: kind, path: `/inst/${kind}`, port: ports[kind] }]));
  const agent = new AgentFixture({ services, extraYaml: ensembles, logLevel: 'info', runtime: { drift_interval_ms: 0 } });
  try {
    await agent.start();
    const client = new RuntimeClient(agent.socketPath);
    for (const kind of KINDS) {
      const deadline = Date.now() + 15_000;
      while ((await client.showServersState(`web-${kind}`).catch(() => [])).filter((s) => !s.maint).length !== 1) {
        if (Date.now() > deadline) throw new Error(`web-${kind} never showed its base server; last log lines:\n${agent.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const pids = [pid, agent.proc?.pid ?? NaN, await agent.haproxyPid()];
    const from = agent.mark();
    const latencies: Record<Kind, number[]> = { plain: [], tls: [] };
    const done = windowOf(() => pids);
    for (let i = 0; i < 2 * EVENTS; i++) {
      const kind = KINDS[i % 2];
      const add = Math.floor(i / 2) % 2 === 0;
      const t = performance.now();
      if (add) await zc.put(`/inst/${kind}/extra`, { address: '127.0.0.2', port: backendPort });
      else await zc.remove(`/inst/${kind}/extra`);
      const want = add ? 2 : 1;
      const deadline = t + 10_000;
      while ((await client.showServersState(`web-${kind}`)).filter((s) => !s.maint).length !== want) {
        if (performance.now() > deadline) throw new Error(`event ${i} (${kind}, ${add ? 'add' : 'remove'}) not in HAProxy after 10 s; last log lines:\n${agent.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`);
      }
      latencies[kind].push(performance.now() - t);
    }
    const window = done();
    const tlsFailures = agent.logs.filter((l) => l.event === 'zk_tls_failed');
    if (tlsFailures.length) throw new Error(`the agent reported TLS failures: ${JSON.stringify(tlsFailures[0])}`);
    return { latencies, reloads: agent.events('reload', from).length, window };
  } finally {
    zc.close();
    await agent.cleanup();
  }
}

function connectOnce(client: Client): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const timer = setTimeout(() => reject(new Error('connect timed out')), 10_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(performance.now() - t);
    });
    client.connect();
  });
}

/**
 * Session connects, alternating plaintext and TLS after a warm-up of two each: createClient ->
 * 'connected' (TCP, the TLS handshake, ZooKeeper's ConnectRequest/Response), then close. The
 * ZooKeeper JVM's and this process's CPU time around each connect and close, summed per transport.
 */
async function connects(zk: TlsZooKeeper, pid: number): Promise<{ ms: Record<Kind, number[]>; zkCpu: Record<Kind, number>; nodeCpu: Record<Kind, number>; negotiated: string; window: Window }> {
  const make = (kind: Kind): Client => (kind === 'plain' ? zkLib.createClient(zk.connectString, { sessionTimeout: 5000, spinDelay: 100, retries: 0 }) : zk.tlsClient().client);
  let negotiated = '?';
  const out = { ms: { plain: [] as number[], tls: [] as number[] }, zkCpu: { plain: 0, tls: 0 }, nodeCpu: { plain: 0, tls: 0 } };
  const settle = () => new Promise((r) => setTimeout(r, 30)); // ZooKeeper closes the session after the client's close
  let done: (() => Window) | undefined;
  for (let i = 0; i < 2 * (CONNECTS + 2); i++) {
    if (i === 4) done = windowOf(() => [pid]);
    const kind = KINDS[i % 2];
    await settle();
    const [zk0, node0] = [safeCpu(pid), ownCpuMs()];
    const client = make(kind);
    const took = await connectOnce(client);
    if (kind === 'tls' && negotiated === '?') {
      const socket = (client as unknown as { connectionManager: { socket: TLSSocket } }).connectionManager.socket;
      negotiated = `${socket.getProtocol()}, ${socket.getCipher().name}`;
    }
    client.close();
    await settle();
    if (i < 4) continue; // warm-up
    out.ms[kind].push(took);
    out.zkCpu[kind] += safeCpu(pid) - zk0;
    out.nodeCpu[kind] += ownCpuMs() - node0;
  }
  return { ...out, negotiated, window: done!() };
}

const pcts = ['p50', 'p90', 'p99', 'max'] as const;

async function run(): Promise<string> {
  const t0 = performance.now();
  const pki = await makePki();
  const zk = await new TlsZooKeeper(pki).start();
  const setupMs = performance.now() - t0;
  const backends = await startBackends(1);
  try {
    const pid = zkPid(zk);
    const raw = await rawWatch(zk, pid);
    const agent = await throughAgent(zk, pid, backends.ports[0]);
    const conn = await connects(zk, pid);
    const s = (xs: Record<Kind, number[]>): Record<Kind, Summary> => ({ plain: summarize(xs.plain), tls: summarize(xs.tls) });
    const ours = s(agent.latencies);
    const lim = s(raw.latencies);
    const rows: Array<Array<string | number>> = pcts.map((k) => [
      `${k} (ms)`,
      ms(ours.plain[k]),
      ms(ours.tls[k]),
      times(ours.plain[k], ours.tls[k]),
      ms(lim.plain[k]),
      ms(lim.tls[k]),
      times(lim.plain[k], lim.tls[k]),
      k === 'max' ? '' : ms(ours.plain[k] - lim.plain[k]),
      k === 'max' ? '' : ms(ours.tls[k] - lim.tls[k]),
    ]);
    rows.push(['reloads (one agent, both)', agent.reloads, '', '', '', '', '', '', '']);

    const c = s(conn.ms);
    const perConnect = (x: Record<Kind, number>): Record<Kind, number> => ({ plain: x.plain / CONNECTS, tls: x.tls / CONNECTS });
    const zkCpu = perConnect(conn.zkCpu);
    const nodeCpu = perConnect(conn.nodeCpu);
    const connRows: Array<Array<string | number>> = [
      ...(['p50', 'p90', 'max'] as const).map((k) => [`connect ${k} (ms)`, ms(c.plain[k]), ms(c.tls[k]), times(c.plain[k], c.tls[k]), ms(c.tls[k] - c.plain[k])]),
      ['ZooKeeper CPU / connect (ms)', ms(zkCpu.plain), ms(zkCpu.tls), times(zkCpu.plain, zkCpu.tls), ms(zkCpu.tls - zkCpu.plain)],
      ['bench (Node) CPU / connect (ms)', ms(nodeCpu.plain), ms(nodeCpu.tls), times(nodeCpu.plain, nodeCpu.tls), ms(nodeCpu.tls - nodeCpu.plain)],
      ['connect p50 ÷ propagation p50', times(ours.plain.p50, c.plain.p50), times(ours.tls.p50, c.tls.p50), '', ''],
    ];
    return [
      `ZooKeeper 3.8 standalone on 127.0.0.1 with the Netty connection factory, serving its plain clientPort and its TLS secureClientPort (${conn.negotiated}, server certificate checked against the test CA, no client certificate) from one process, so the transport is the only difference. ${EVENTS} events per transport, alternating plaintext and TLS (an instance znode created or deleted; the next one starts when HAProxy shows the previous). One agent with two services, whose \`zookeeper\` watchers name ensemble \`plain\` or \`tls\` of its proxymgr.yml; the writer is a plaintext client in every column, so only the watching side's transport changes. Raw watch: a plaintext write to a children watch firing in a plaintext or a TLS client, alternating the same way.`,
      '',
      table(
        ['metric', 'write -> HAProxy, plaintext', 'write -> HAProxy, TLS', 'TLS / plaintext', 'raw watch, plaintext (limit)', 'raw watch, TLS (limit)', 'TLS / plaintext', 'proxymgr overhead, plaintext', 'proxymgr overhead, TLS'],
        rows,
      ),
      '',
      `Connect: a new node-zookeeper-client session, createClient -> \`connected\` (TCP, the TLS handshake, ZooKeeper's session setup), then closed; ${CONNECTS} per transport after 2 each of warm-up, alternating. CPU is the ZooKeeper JVM's and the bench process's CPU time (/proc, 10 ms ticks, summed over the ${CONNECTS} connects and closes) per connect; the last row puts a connect next to one propagated change.`,
      '',
      table(['metric', 'plaintext', 'TLS', 'TLS / plaintext', 'TLS − plaintext (ms)'], connRows),
      '',
      `Machine during the windows (CPU used by processes other than this bench, ZooKeeper, the agent and HAProxy, in cores of ${cpus().length}; steal = CPU the hypervisor withheld; 1-minute load average at start -> end): ${[disturbance('raw watch', raw.window), disturbance('through the agent', agent.window), disturbance('connects', conn.window)].join('; ')}. PKI and ZooKeeper start: ${(setupMs / 1000).toFixed(1)} s.`,
    ].join('\n');
  } finally {
    await backends.close();
    await zk.cleanup();
    pki.cleanup();
  }
}

export const zookeeper: Bench = { title: 'ZooKeeper propagation (`bench/zookeeper.ts`)', run };

if (require.main === module) runAlone(zookeeper);
