/**
 * Fleet: every host runs a sidecar against one ZooKeeper ensemble. N simulated
 * sidecars (the agent's own ZooKeeper watcher, `src/watchers/zookeeper.ts`, each with
 * its own session) watch one service on a 3-node ensemble on loopback; one instance
 * znode is created or deleted at a time and must reach all of them. Measured: time
 * until each sidecar (and the last one) reports the new list, ZooKeeper requests per
 * sidecar per change and per idle minute (in the clients by API call and opcode, and in
 * the servers per connection from `cons`), sessions and watches per server, connection
 * churn when a larger fleet starts at once; then, on paper, what 5,000 and 50,000
 * sidecars would cost the ensemble.
 *
 *   node .tmp/bench/bench/fleet.js   (BENCH_FLEET_SMALL=100, BENCH_FLEET=500, BENCH_FLEET_STORM=2000 sidecars;
 *                                     BENCH_QUICK=1 for 50, 100 and 1000)
 *   BENCH_FLEET_CHANGES (20; quick 5), BENCH_FLEET_IDLE_S (20; quick 8), BENCH_FLEET_PROCS (2 worker processes)
 *
 * The sidecars live in BENCH_FLEET_PROCS child processes (this file, run with `node -e`
 * and `fleetWorker()`), so that the machine's cores all work for the fleet and so that the
 * main process, which writes the changes, counts nothing but what the fleet does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import { TestEnsemble, type ZkTestClient } from '../test/support/zookeeper';
import { silentLogger } from '../src/log';
import { normalizeServers, type Server } from '../src/model/server';
import type { WatcherType } from '../src/watchers/watcher';
import { QUICK, cpuMs, ms, runAlone, size, summarize, table, type Bench } from './lib/report';

const SIZES = [...new Set([size('BENCH_FLEET_SMALL', 100, 50), size('BENCH_FLEET', 500, 100)])].sort((a, b) => a - b);
const CHANGES = size('BENCH_FLEET_CHANGES', 20, 5);
const IDLE_MS = size('BENCH_FLEET_IDLE_S', 20, 8) * 1000;
const PROCS = size('BENCH_FLEET_PROCS', 2, 2);
/** A larger fleet that only starts (connection churn); 0 skips it. */
const STORM = size('BENCH_FLEET_STORM', 2000, 1000);
/** Instances of the service before the changes (each change adds a further one or removes it again). */
const INSTANCES = 10;
const PATH = '/inst/web';
const CHANGE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 60_000;
/** Fleet sizes to cost on paper. */
const PAPER = [5_000, 50_000];

/** Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares (so worker and main times compare). */
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

const instance = (address: string) => ({ name: `${address}:8080`, data: { address, port: 8080 } });
const BASE = Array.from({ length: INSTANCES }, (_, i) => instance(`10.0.0.${i + 1}`));
/** Change c adds extra instance c/2 (even c) or removes it again (odd c). */
const extra = (c: number) => instance(`10.0.1.${Math.floor(c / 2) + 1}`);
const listKey = (servers: readonly Server[]) => normalizeServers(servers).map((s) => `${s.address}:${s.port}`).join(',');
const keyOf = (insts: ReadonlyArray<ReturnType<typeof instance>>) => listKey(insts.map((i) => i.data));

// ---------------------------------------------------------------------------------------
// Worker side: a share of the fleet in one process.

type Counts = Record<string, number>;

interface WorkerConfig {
  /** `host:port` of each ensemble member. */
  hosts: string[];
  path: string;
  count: number;
  /** The list every sidecar must report first. */
  expect: string;
}

type ToWorker = { type: 'expect'; id: number; key: string } | { type: 'collect'; id: number } | { type: 'counts' } | { type: 'stop' };

type FromWorker =
  | { type: 'armed'; id: number; counts: Counts }
  | { type: 'done'; id: number; at: number[]; updates: number; errors: number; counts: Counts; partial: boolean }
  | { type: 'counts'; counts: Counts }
  | { type: 'failed'; message: string };

/**
 * Counts every request the fleet's clients send. All module copies of the watcher share
 * the one node-zookeeper-client module, so patching its prototypes once, before any copy
 * is loaded, sees every sidecar: on the wire by opcode (`op:…`, which includes the
 * client's own PINGs and SET_WATCHES, sent without an API call), and by API call, with
 * `exists /` (the session watchdog's probe) apart from any other `exists`.
 */
function installCounters(): Counts {
  const counts: Counts = {};
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const jute = require('node-zookeeper-client/lib/jute') as { OP_CODES: Record<string, number> };
  const opName = new Map(Object.entries(jute.OP_CODES).map(([k, v]) => [v, k]));
  const CM = require('node-zookeeper-client/lib/ConnectionManager') as { prototype: { queue(req: { header?: { type: number } }, cb?: unknown): unknown } };
  const queue = CM.prototype.queue;
  CM.prototype.queue = function (this: unknown, req, cb) {
    const t = req?.header?.type;
    bump(`op:${t === undefined ? 'CONNECT' : (opName.get(t) ?? t)}`);
    return queue.call(this, req, cb);
  };
  // Connection churn (node-zookeeper-client states: 1 CONNECTING, 2 CONNECTED). A connection attempt
  // closed while CONNECTING is usually ZkSession's handshake bound cutting it (src/zk/session.ts,
  // boundHandshake); the client's connect timer is only cleared on 'connect' or 'error', so an attempt
  // destroyed before its TCP connect completes leaves that timer armed, and when it fires it destroys
  // whatever socket the client has then, a connected one included.
  const CMp = CM.prototype as unknown as Record<string, (this: { state: number }, ...args: unknown[]) => unknown>;
  const around = (name: string, before: (state: number) => string | undefined) => {
    const orig = CMp[name];
    CMp[name] = function (...args: unknown[]) {
      const k = before(this.state);
      if (k) bump(k);
      return orig.apply(this, args);
    };
  };
  around('connect', () => 'connection attempts');
  around('onSocketClosed', (st) => (st === 1 ? 'closed while connecting' : st === 2 ? 'closed while connected' : undefined));
  around('onSocketConnectTimeout', (st) => (st === 2 ? 'stale connect timer closed a connected socket' : 'connect timeouts'));
  const createClient = zookeeper.createClient;
  (zookeeper as { createClient: typeof createClient }).createClient = (...args: Parameters<typeof createClient>) => {
    bump('clients created');
    return createClient(...args);
  };
  // The Client class is not exported: reach its prototype through an unconnected client (no socket, no timer).
  const proto = Object.getPrototypeOf(createClient('127.0.0.1:1')) as Record<string, (...args: unknown[]) => unknown>;
  for (const m of ['getChildren', 'getData', 'exists', 'create', 'remove', 'setData', 'getACL', 'setACL', 'mkdirp', 'transaction']) {
    const orig = proto[m];
    proto[m] = function (this: unknown, ...args: unknown[]) {
      bump(m === 'exists' && args[0] === '/' ? 'exists /' : m);
      return orig.apply(this, args);
    };
  }
  return counts;
}

/**
 * One independent copy of the agent's ZooKeeper watcher per simulated sidecar.
 * ZkSession.acquire (src/zk/session.ts) keeps ONE session per connect string per process
 * in a static map, which is right for an agent (all its services share a session) but
 * would turn N watchers in one process into one session, not a fleet. Deleting the
 * compiled modules from require.cache before each require() gives every sidecar its own
 * session.js (its own static map, session and watchdog), children-cache.js and
 * zookeeper.js, while node-zookeeper-client itself (stateless, and counted) stays shared.
 */
const FRESH = ['../src/zk/session', '../src/zk/children-cache', '../src/watchers/zookeeper'].map((p) => require.resolve(p));
function freshWatcherType(): WatcherType {
  for (const p of FRESH) delete require.cache[p];
  return (require(FRESH[2]) as { zookeeperWatcher: WatcherType }).zookeeperWatcher;
}

function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Entry point of a worker process (see WorkerHandle). */
export function fleetWorker(): void {
  const cfg = JSON.parse(process.env.PMGR_FLEET_WORKER ?? '') as WorkerConfig;
  const send = (m: FromWorker) => process.send?.(m);
  // The parent gone (crashed or killed): leave at once, the sessions close with the sockets.
  process.on('disconnect', () => process.exit(0));
  const counts = installCounters();
  const log = silentLogger();
  let id = 0;
  let expect = cfg.expect;
  let at: number[] = new Array<number>(cfg.count).fill(NaN);
  let remaining = cfg.count;
  let updates = 0;
  let errors = 0;
  const done = (partial: boolean) => send({ type: 'done', id, at, updates, errors, counts: { ...counts }, partial });

  const watchers = Array.from({ length: cfg.count }, (_, i) => {
    // Each sidecar lists the whole ensemble (node-zookeeper-client shuffles the list again itself).
    const server = shuffled(cfg.hosts).join(',');
    return freshWatcherType().create(
      { server, path: cfg.path },
      {
        service: 'web',
        baseDir: process.cwd(),
        defaults: {},
        log,
        onUpdate(servers) {
          updates++;
          if (listKey(servers) === expect && Number.isNaN(at[i])) {
            at[i] = now();
            if (--remaining === 0) done(false);
          }
        },
        onError(message) {
          errors++;
          if (message.includes('disconnected')) counts.disconnected = (counts.disconnected ?? 0) + 1;
        },
      },
    );
  });
  process.on('message', (m: ToWorker) => {
    if (m.type === 'expect') {
      id = m.id;
      expect = m.key;
      at = new Array<number>(cfg.count).fill(NaN);
      remaining = cfg.count;
      updates = 0;
      errors = 0;
      send({ type: 'armed', id, counts: { ...counts } });
    } else if (m.type === 'collect') {
      if (m.id === id && remaining > 0) done(true);
    } else if (m.type === 'counts') {
      send({ type: 'counts', counts: { ...counts } });
    } else if (m.type === 'stop') {
      // stop() releases each session; the client sends CLOSE_SESSION, given a moment to leave.
      void Promise.all(watchers.map((w) => w.stop())).finally(() => setTimeout(() => process.exit(0), 500));
    }
  });
  try {
    for (const w of watchers) w.start();
  } catch (err) {
    send({ type: 'failed', message: String(err) });
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------
// Main side.

/** A worker process and its messages (kept until asked for, so none is lost to a race). */
class WorkerHandle {
  readonly proc: ChildProcess;
  private readonly inbox: FromWorker[] = [];
  private wake?: () => void;
  private exited = false;

  constructor(cfg: WorkerConfig) {
    this.proc = spawn(process.execPath, ['-e', `require(${JSON.stringify(__filename)}).fleetWorker()`], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, PMGR_FLEET_WORKER: JSON.stringify(cfg) },
    });
    this.proc.on('message', (m: FromWorker) => {
      this.inbox.push(m);
      this.wake?.();
    });
    this.proc.on('exit', () => {
      this.exited = true;
      this.wake?.();
    });
  }

  send(m: ToWorker): void {
    if (!this.exited && this.proc.connected) this.proc.send(m);
  }

  /** The next message matching `pred`; undefined after `timeoutMs`. Throws if the worker died or failed. */
  async next<T extends FromWorker>(pred: (m: FromWorker) => m is T, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.inbox.find((m) => m.type === 'failed');
      if (failed) throw new Error(`fleet worker failed: ${(failed as { message: string }).message}`);
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      if (this.exited) throw new Error(`fleet worker ${this.proc.pid} exited (code ${this.proc.exitCode}, signal ${this.proc.signalCode})`);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = undefined;
    }
  }

  /** Asks the worker to close its sessions and exit; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.send({ type: 'stop' });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

const isDone = (id: number) => (m: FromWorker): m is Extract<FromWorker, { type: 'done' }> => m.type === 'done' && m.id === id;
const isArmed = (id: number) => (m: FromWorker): m is Extract<FromWorker, { type: 'armed' }> => m.type === 'armed' && m.id === id;
const isCounts = (m: FromWorker): m is Extract<FromWorker, { type: 'counts' }> => m.type === 'counts';

function addCounts(into: Counts, c: Counts, sign = 1): Counts {
  for (const [k, v] of Object.entries(c)) into[k] = (into[k] ?? 0) + sign * v;
  return into;
}
const sumCounts = (cs: Counts[]) => cs.reduce((acc, c) => addCounts(acc, c), {} as Counts);
const diffCounts = (after: Counts, before: Counts) => addCounts({ ...after }, before, -1);

/** A four-letter word's reply ('' when the server does not answer). */
function fourLetter(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('connect', () => s.write(word));
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(''));
    s.setTimeout(3000, () => s.destroy());
  });
}

interface ServerStats {
  mode: string;
  /** Client sessions on this server (from `cons`), the bench's own writer not counted; so are the packets. */
  sessions: number;
  watches: number;
  /** Sessions the ensemble tracks (leader's zk_global_sessions; NaN on followers), live or orphaned. */
  globalSessions: number;
  packetsReceived: number;
  packetsSent: number;
  cpuMs: number;
}

async function serverStats(ens: TestEnsemble, jvmPids: number[], skipSid?: bigint): Promise<ServerStats[]> {
  return Promise.all(
    ens.nodes.map(async (n, i) => {
      const mntr = new Map(
        (await fourLetter(n.port, 'mntr'))
          .split('\n')
          .map((l) => l.split('\t'))
          .filter((kv) => kv.length === 2)
          .map(([k, v]) => [k, v.trim()] as const),
      );
      // Per connection: " /127.0.0.1:40000[1](queued=0,recved=12,sent=13,sid=0x1000a…,lop=…)". The server-wide
      // mntr packet counters would also count the writer and these four-letter-word connections.
      const cons = [...(await fourLetter(n.port, 'cons')).matchAll(/recved=(\d+),sent=(\d+),sid=0x([0-9a-f]+)/g)]
        .map((m) => ({ recved: Number(m[1]), sent: Number(m[2]), sid: BigInt(`0x${m[3]}`) }))
        .filter((c) => c.sid !== 0n && c.sid !== skipSid);
      return {
        mode: mntr.get('zk_server_state') ?? '?',
        sessions: cons.length,
        watches: Number(mntr.get('zk_watch_count') ?? NaN),
        globalSessions: mntr.get('zk_server_state') === 'leader' ? Number(mntr.get('zk_global_sessions') ?? NaN) : NaN,
        packetsReceived: cons.reduce((a, c) => a + c.recved, 0),
        packetsSent: cons.reduce((a, c) => a + c.sent, 0),
        cpuMs: jvmPids[i] ? cpuMs(jvmPids[i]) : NaN,
      };
    }),
  );
}

const leaderOf = (xs: ServerStats[]) => xs.find((s) => s.mode === 'leader') ?? xs[0];
const total = (xs: ServerStats[], f: (s: ServerStats) => number) => xs.reduce((a, s) => a + f(s), 0);

/** The pid of the JVM serving a test node (found by its zoo.cfg on the command line); 0 if not found. */
function javaPid(dir: string): number {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`${dir}/zoo.cfg`)) return Number(e);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

interface ChangeResult {
  kind: 'add' | 'delete';
  /** Per sidecar: write call -> its onUpdate with the new list (NaN: missed). */
  latencies: number[];
  last: number;
  ackMs: number;
  updates: number;
  errors: number;
  counts: Counts;
}

interface FleetResult {
  n: number;
  initialAllMs: number;
  initialCounts: Counts;
  /** Everything the fleet sent, from spawn to just before it stops. */
  finalCounts: Counts;
  /** Sessions on the ensemble (the writer's included) right after every sidecar had its first list, and after the idle period. */
  globalSessions: { start: number; later: number };
  perServer: ServerStats[];
  idle: { counts: Counts; received: number; sent: number; cpuMs: number; ms: number };
  changes: ChangeResult[];
  changeServer: { received: number; sent: number; cpuMs: number; ms: number };
}

/** Spawns the worker processes (into `workers`, which the caller stops) and waits until every sidecar has the base list. */
async function startFleet(workers: WorkerHandle[], hosts: string[], n: number): Promise<{ initialAllMs: number; initialCounts: Counts }> {
  const procs = Math.max(1, Math.min(PROCS, n));
  const t0 = now();
  for (let p = 0; p < procs; p++) {
    const count = Math.floor(n / procs) + (p < n % procs ? 1 : 0);
    workers.push(new WorkerHandle({ hosts, path: PATH, count, expect: keyOf(BASE) }));
  }
  const ready = await Promise.all(workers.map((w) => w.next(isDone(0), READY_TIMEOUT_MS)));
  if (ready.some((r) => !r)) throw new Error(`${n} sidecars: not all reported the initial list within ${READY_TIMEOUT_MS} ms`);
  return { initialAllMs: Math.max(...ready.flatMap((r) => r!.at)) - t0, initialCounts: sumCounts(ready.map((r) => r!.counts)) };
}

async function askCounts(workers: WorkerHandle[]): Promise<Counts> {
  for (const w of workers) w.send({ type: 'counts' });
  const cs = await Promise.all(workers.map((w) => w.next(isCounts, 10_000)));
  if (cs.some((c) => !c)) throw new Error('a fleet worker did not answer');
  return sumCounts(cs.map((c) => c!.counts));
}

const sidOf = (c: ZkTestClient) => BigInt(`0x${c.client.getSessionId().toString('hex')}`);

async function measureFleet(ens: TestEnsemble, writer: ZkTestClient, jvm: number[], n: number, baselineCpuPerMs: number): Promise<FleetResult> {
  const writerSid = sidOf(writer);
  const workers: WorkerHandle[] = [];
  try {
    const { initialAllMs, initialCounts } = await startFleet(workers, ens.nodes.map((x) => x.connectString), n);
    const startStats = await serverStats(ens, jvm, writerSid);
    await sleep(500); // settle (the last sidecars' replies, then nothing but the watchdogs and pings)

    // Idle: what the fleet costs when nothing changes.
    const idleC0 = await askCounts(workers);
    const idleS0 = await serverStats(ens, jvm, writerSid);
    const i0 = now();
    await sleep(IDLE_MS);
    const idleC1 = await askCounts(workers);
    const idleS1 = await serverStats(ens, jvm, writerSid);
    const idleMs = now() - i0;
    const idle = {
      counts: diffCounts(idleC1, idleC0),
      received: total(idleS1, (s) => s.packetsReceived) - total(idleS0, (s) => s.packetsReceived),
      sent: total(idleS1, (s) => s.packetsSent) - total(idleS0, (s) => s.packetsSent),
      cpuMs: total(idleS1, (s) => s.cpuMs) - total(idleS0, (s) => s.cpuMs) - baselineCpuPerMs * idleMs,
      ms: idleMs,
    };

    // Changes: one instance znode created or deleted at a time, to all N.
    const changes: ChangeResult[] = [];
    const cs0 = await serverStats(ens, jvm, writerSid);
    const c0 = now();
    for (let c = 0; c < CHANGES; c++) {
      const id = c + 1;
      const x = extra(c);
      const kind = c % 2 === 0 ? 'add' : 'delete';
      const key = keyOf(kind === 'add' ? [...BASE, x] : BASE);
      for (const w of workers) w.send({ type: 'expect', id, key });
      const armed = await Promise.all(workers.map((w) => w.next(isArmed(id), 10_000)));
      if (armed.some((a) => !a)) throw new Error('a fleet worker did not arm');
      const path = `${PATH}/${x.name}`;
      const start = now();
      await new Promise<void>((resolve, reject) => {
        const cb = (err: unknown) => (err ? reject(err) : resolve());
        if (kind === 'add') writer.client.create(path, Buffer.from(JSON.stringify(x.data)), cb);
        else writer.client.remove(path, -1, cb);
      });
      const ackMs = now() - start;
      let dones = await Promise.all(workers.map((w) => w.next(isDone(id), CHANGE_TIMEOUT_MS)));
      if (dones.some((d) => !d)) {
        // Some sidecars missed it: take what each worker has (NaN for the missing ones) and go on.
        for (const w of workers) w.send({ type: 'collect', id });
        dones = await Promise.all(workers.map((w) => w.next(isDone(id), 10_000)));
        if (dones.some((d) => !d)) throw new Error('a fleet worker did not report');
      }
      const latencies = dones.flatMap((d) => d!.at.map((t) => t - start));
      const got = latencies.filter((l) => !Number.isNaN(l));
      changes.push({
        kind,
        latencies,
        last: got.length === latencies.length ? Math.max(...got) : NaN,
        ackMs,
        updates: dones.reduce((a, d) => a + d!.updates, 0),
        errors: dones.reduce((a, d) => a + d!.errors, 0),
        counts: diffCounts(sumCounts(dones.map((d) => d!.counts)), sumCounts(armed.map((a) => a!.counts))),
      });
      await sleep(50);
    }
    const cs1 = await serverStats(ens, jvm, writerSid);
    const changeMs = now() - c0;
    const finalCounts = await askCounts(workers);
    // Back to the base list for the next fleet (an odd number of changes ends with one added).
    if (CHANGES % 2 === 1) await writer.remove(`${PATH}/${extra(CHANGES - 1).name}`);
    return {
      n,
      initialAllMs,
      initialCounts,
      finalCounts,
      globalSessions: { start: leaderOf(startStats).globalSessions, later: leaderOf(idleS1).globalSessions },
      perServer: idleS1,
      idle,
      changes,
      changeServer: {
        // Less what the idle fleet (watchdogs) sends and burns over the same time, so that only the changes remain.
        received: total(cs1, (s) => s.packetsReceived) - total(cs0, (s) => s.packetsReceived) - (idle.received / idle.ms) * changeMs,
        sent: total(cs1, (s) => s.packetsSent) - total(cs0, (s) => s.packetsSent) - (idle.sent / idle.ms) * changeMs,
        cpuMs: total(cs1, (s) => s.cpuMs) - total(cs0, (s) => s.cpuMs) - (baselineCpuPerMs + idle.cpuMs / idle.ms) * changeMs,
        ms: changeMs,
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => w.kill())));
  }
}

interface StormResult {
  n: number;
  initialAllMs: number;
  counts: Counts;
  globalSessions: { start: number; later: number };
}

/**
 * A larger fleet that only starts, all sessions within a few hundred ms (as after an ensemble
 * restart), then idles past the session timeout: connection churn and orphaned sessions.
 */
async function measureStorm(ens: TestEnsemble, writer: ZkTestClient, jvm: number[], n: number): Promise<StormResult> {
  const workers: WorkerHandle[] = [];
  try {
    const { initialAllMs } = await startFleet(workers, ens.nodes.map((x) => x.connectString), n);
    const start = await serverStats(ens, jvm, sidOf(writer));
    // Past the session timeout (10 s) and a few ticks, so that orphaned sessions have expired.
    await sleep(12_000);
    const counts = await askCounts(workers);
    const later = await serverStats(ens, jvm, sidOf(writer));
    return { n, initialAllMs, counts, globalSessions: { start: leaderOf(start).globalSessions, later: leaderOf(later).globalSessions } };
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => w.kill())));
  }
}

// ---------------------------------------------------------------------------------------
// Report.

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
/** 12,345 / 1.2 M / 3.4 k style. */
function big(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 0 : 1)} M`;
  if (x >= 1e4) return `${Math.round(x / 1e3)} k`;
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 0 : 1);
}

const READ_KEYS = ['getChildren', 'getData', 'exists'] as const;
const reads = (c: Counts) => READ_KEYS.reduce((a, k) => a + (c[k] ?? 0), 0);

function perChange(r: FleetResult, kind: 'add' | 'delete') {
  const cs = r.changes.filter((c) => c.kind === kind);
  const sum = sumCounts(cs.map((c) => c.counts));
  const per = (k: string) => (sum[k] ?? 0) / r.n / Math.max(1, cs.length);
  return { n: cs.length, getChildren: per('getChildren'), getData: per('getData'), reads: reads(sum) / r.n / Math.max(1, cs.length) };
}

function report(results: FleetResult[], storm: StormResult | undefined, baseline: { cpuMsPerMin: number }, tookMs: number): string {
  const out: string[] = [];
  out.push(
    `Sidecars (the agent's \`zookeeperWatcher\`, one ZooKeeper session each) on a 3-node ZooKeeper 3.8 ensemble on 127.0.0.1 (tickTime 500 ms, session timeout 10 s), split over ${PROCS} worker processes on this ${QUICK ? 'quick' : 'full'} run; the service has ${INSTANCES} instances, and each of ${CHANGES} changes creates one more instance znode or deletes it again. Whole run: ${(tookMs / 1000).toFixed(0)} s.`,
    '',
  );

  out.push(
    'Propagation: per sidecar, from just before the write call to its `onUpdate` with the new list (all sidecars x changes), and the time until the last sidecar had each change (over changes); the client, the simulated fleet and the three servers share 2 cores, so the fan-out tail is partly this machine queueing the simulated sidecars.',
    '',
    table(
      ['sidecars', 'all have the first list (ms from spawning the workers)', 'per sidecar p50 (ms)', 'p99 (ms)', 'max (ms)', 'last one p50 (ms)', 'last one max (ms)', 'write ack p50 (ms)', '`onUpdate` per sidecar per change', 'missed'],
      results.map((r) => {
        const lat = r.changes.flatMap((c) => c.latencies);
        const got = lat.filter((l) => !Number.isNaN(l));
        const s = summarize(got);
        const last = summarize(r.changes.map((c) => c.last).filter((l) => !Number.isNaN(l)));
        return [r.n, ms(r.initialAllMs), ms(s.p50), ms(s.p99), ms(s.max), ms(last.p50), ms(last.max), ms(summarize(r.changes.map((c) => c.ackMs)).p50), f2(r.changes.reduce((a, c) => a + c.updates, 0) / r.n / r.changes.length), lat.length - got.length];
      }),
    ),
    '',
  );

  out.push(
    "ZooKeeper reads per sidecar, counted in the clients by API call (getChildren, getData, exists other than the watchdog's `exists /`, which changes do not cause): at start (connect and first list), and per change while it spreads; and the packets the servers received from and sent to each sidecar per change (`cons` per connection, less the idle fleet's rate; sent = replies plus watch notifications).",
    '',
    table(
      ['sidecars', 'start: getChildren + getData', 'add: getChildren', 'add: getData', 'delete: getChildren', 'delete: getData', 'reads per change (add / delete)', 'server packets in / out per change'],
      results.map((r) => {
        const a = perChange(r, 'add');
        const d = perChange(r, 'delete');
        const ic = r.initialCounts;
        return [
          r.n,
          `${f2((ic.getChildren ?? 0) / r.n)} + ${f2((ic.getData ?? 0) / r.n)}`,
          f2(a.getChildren),
          f2(a.getData),
          f2(d.getChildren),
          f2(d.getData),
          `${f2(a.reads)} / ${f2(d.reads)}`,
          `${f2(r.changeServer.received / r.n / CHANGES)} / ${f2(r.changeServer.sent / r.n / CHANGES)}`,
        ];
      }),
    ),
    '',
  );

  const idleRow = (r: FleetResult) => {
    const perMin = (k: string) => ((r.idle.counts[k] ?? 0) / r.n) * (60_000 / r.idle.ms);
    const all = Object.entries(r.idle.counts).filter(([k]) => k.startsWith('op:')).reduce((a, [, v]) => a + v, 0);
    return {
      watchdog: perMin('exists /'),
      ping: perMin('op:PING'),
      other: (all / r.n) * (60_000 / r.idle.ms) - perMin('op:PING') - perMin('exists /'),
      total: (all / r.n) * (60_000 / r.idle.ms),
      serverIn: (r.idle.received / r.n) * (60_000 / r.idle.ms),
      cpu: (r.idle.cpuMs / r.n) * (60_000 / r.idle.ms),
    };
  };
  out.push(
    `Steady state: requests per sidecar per minute with nothing changing (${(IDLE_MS / 1000).toFixed(0)} s measured, scaled to a minute), on the wire by opcode in the clients and as packets the servers received from the sidecars' connections (\`cons\`); ensemble CPU above the ensemble's own idle (${f1(baseline.cpuMsPerMin)} ms CPU per minute for the three JVMs without sidecars), noisy.`,
    '',
    table(
      ['sidecars', 'watchdog `exists /`', 'client PING', 'other', 'total (client)', 'server packets received', 'ensemble CPU (ms per sidecar per minute)'],
      results.map((r) => {
        const x = idleRow(r);
        return [r.n, f1(x.watchdog), f1(x.ping), f1(x.other), f1(x.total), f1(x.serverIn), f2(x.cpu)];
      }),
    ),
    '',
  );

  out.push(
    'Sessions and watches per ZooKeeper server while the fleet runs (`cons`, the bench\'s writer session not counted, and `mntr` zk_watch_count); the client picks its server at random from the connect string.',
    '',
    table(
      ['sidecars', ...results[0].perServer.map((s, i) => `server ${i + 1} (${s.mode}) sessions / watches`), 'watches per sidecar'],
      results.map((r) => [r.n, ...r.perServer.map((s) => `${s.sessions} / ${s.watches}`), f2(total(r.perServer, (s) => s.watches) / r.n)]),
    ),
    '',
  );

  const churnRow = (label: string, n: number, f: Counts, changeReads: number, sessions: { start: number; later: number }) => {
    const per = (k: string) => f2((f[k] ?? 0) / n);
    // The leader's count includes the writer's session.
    const orphans = (x: number) => (Number.isFinite(x) ? Math.max(0, x - n - 1) : NaN);
    return [label, per('connection attempts'), per('closed while connecting'), per('stale connect timer closed a connected socket'), per('disconnected'), per('op:SET_WATCHES'), per('clients created'), f2((reads(f) - changeReads - n * (1 + INSTANCES)) / n), `${orphans(sessions.start)} / ${orphans(sessions.later)}`];
  };
  out.push(
    `Connection churn per sidecar, counted in the clients, over each fleet's life above (start, ${(IDLE_MS / 1000).toFixed(0)} s idle, the changes)${storm ? ` and for ${storm.n} sidecars that only start and then idle 12 s (all ${storm.n} had the first list after ${ms(storm.initialAllMs)} ms)` : ''}. Each fleet opens all its sessions within a few hundred ms, like a fleet reconnecting after an ensemble restart, and each server's listen backlog is the JVM default of 50. Cut while connecting: a handshake the server did not answer in time (ZkSession.boundHandshake allows 1 s from the TCP connect, doubling per cut). Stale connect timer: node-zookeeper-client's connect timer of an attempt cut before its TCP connect completed is never cleared and would close the next, healthy connection; the agent no longer cuts attempts still connecting, so this column should stay 0. Orphaned sessions: sessions on the ensemble (leader's zk_global_sessions) beyond the fleet's, right after start and once the session timeout has passed.`,
    '',
    table(
      ['sidecars', 'connection attempts', 'cut while connecting', 'stale connect timer closed a connected socket', 'disconnects reported', 'reconnects with SET_WATCHES', 'clients created (sessions)', 'reads beyond first list and changes', 'orphaned sessions: after start / later'],
      [
        ...results.map((r) => churnRow(String(r.n), r.n, r.finalCounts, r.changes.reduce((acc, c) => acc + reads(c.counts), 0), r.globalSessions)),
        ...(storm ? [churnRow(`${storm.n} (start only)`, storm.n, storm.counts, 0, storm.globalSessions)] : []),
      ],
    ),
    '',
  );

  // ---- On paper.
  const r = results[results.length - 1];
  const a = perChange(r, 'add');
  const d = perChange(r, 'delete');
  const idle = idleRow(r);
  const reqPerSec = idle.total / 60;
  const watchesPer = total(r.perServer, (s) => s.watches) / r.n;
  const sentPerChange = r.changeServer.sent / r.n / CHANGES;
  const recvPerChange = r.changeServer.received / r.n / CHANGES;
  const cpuPerChangeMs = r.changeServer.cpuMs / r.n / CHANGES;
  const cpuIdlePerSec = idle.cpu / 60;
  const startReads = reads(r.initialCounts) / r.n;
  const stormExtra = storm ? Math.max(0, reads(storm.counts) / storm.n - (1 + INSTANCES)) : 0;
  const lastOf = (x: FleetResult) => summarize(x.changes.map((c) => c.last).filter((l) => !Number.isNaN(l))).p50;
  // Proportional, not a fitted slope: two noisy points a few changes each can give any slope, even a negative one.
  const perSidecarFanout = lastOf(r) / r.n;
  out.push(
    `On paper: what ${PAPER.map((p) => p.toLocaleString('en-US')).join(' and ')} sidecars would cost a 3-node ensemble, scaled linearly from the ${r.n}-sidecar run (per sidecar: ${f2(watchesPer)} watches, ${f2(a.reads)} reads per added instance and ${f2(d.reads)} per removed one, ${f2(reqPerSec)} requests per second idle, ${f2(cpuPerChangeMs)} ms ensemble CPU per change and ${f1(cpuIdlePerSec * 1000)} µs per second idle), one watched service with ${INSTANCES} instances per sidecar and sessions spread evenly.`,
    '',
    table(
      ['cost to the ensemble', ...PAPER.map((p) => `${p.toLocaleString('en-US')} sidecars`), 'basis'],
      [
        ['sessions (per server)', ...PAPER.map((p) => `${big(p)} (${big(p / 3)})`), '1 per sidecar: ZkSession.acquire shares one per connect string'],
        ['watches (per server)', ...PAPER.map((p) => `${big(p * watchesPer)} (${big((p * watchesPer) / 3)})`), `${f2(watchesPer)} per sidecar: 1 children watch + 1 data watch per instance; x services watched`],
        ['reads per added instance', ...PAPER.map((p) => big(p * a.reads)), `${f2(a.reads)} per sidecar (getChildren + getData of the new child)`],
        ['reads per removed instance', ...PAPER.map((p) => big(p * d.reads)), `${f2(d.reads)} per sidecar (getChildren only)`],
        ['same change, re-reading every child (Synapse: 2 + M per sidecar)', ...PAPER.map((p) => big(p * (2 + INSTANCES))), `exists + getChildren + getData of each of the M = ${INSTANCES} children, per sidecar, add or delete`],
        ['packets out per change (notifications + replies)', ...PAPER.map((p) => big(p * sentPerChange)), `${f2(sentPerChange)} per sidecar (${f2(recvPerChange)} in)`],
        ['idle requests per second (per server)', ...PAPER.map((p) => `${big(p * reqPerSec)} (${big((p * reqPerSec) / 3)})`), `${f2(reqPerSec)} per sidecar: the watchdog's exists / every third of the session timeout; client PINGs ${f1(idle.ping)}/min`],
        ['idle requests per 2 minutes', ...PAPER.map((p) => big(p * reqPerSec * 120)), 'for comparison with the Synapse figure below'],
        ['idle ensemble CPU (cores, all 3 servers)', ...PAPER.map((p) => f2((p * cpuIdlePerSec) / 1000)), 'measured ms per sidecar per second above the empty ensemble; noisy'],
        ['ensemble CPU per change (s, all 3 servers)', ...PAPER.map((p) => f2((p * cpuPerChangeMs) / 1000)), 'measured per sidecar per change; noisy'],
        ['fan-out, last sidecar: ensemble-bound estimate (s)', ...PAPER.map((p) => f2((p * cpuPerChangeMs) / 1000 / 3)), 'the change CPU spread over 3 servers working in parallel, one core each'],
        ['fan-out, last sidecar: this machine, scaled (s)', ...PAPER.map((p) => f2((perSidecarFanout * p) / 1000)), `last-one p50 ${results.map((x) => `${ms(lastOf(x))} ms at ${x.n}`).join(', ')}: ${f1(perSidecarFanout * 1000)} µs per sidecar at ${r.n}, taken as proportional to the fleet (client-bound: 2 cores simulate the fleet)`],
        [
          'fleet-wide restart: session creations + first reads',
          ...PAPER.map((p) => `${big(p)} + ${big(p * (startReads + stormExtra))}`),
          `each session creation is a quorum write through the leader; ${f2(startReads)} reads per sidecar${storm ? ` + ${f2(stormExtra)} re-reads per sidecar after the stale-timer disconnects measured when ${storm.n} started at once` : ''}`,
        ],
      ],
    ),
    '',
    'Assumptions, plainly:',
    '',
    `* Every per-sidecar figure is taken as constant and multiplied by the fleet size: one session per sidecar, one watched service of ${INSTANCES} instances (watches and first reads grow with instances x services, reads per change do not), sessions spread evenly over 3 servers, as measured here (the client picks a server at random).`,
    '* CPU figures are from the test JVMs (`-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx256m`, tickTime 500 ms: tuned to start fast, not to serve), on 2 shared cores with the simulated fleet; they vary by a factor of 2 to 3 between runs and are an upper bound for a production ensemble, not a prediction.',
    `* The ensemble-bound fan-out assumes each server needs the measured CPU per change and sidecar for its third of the fleet, with one core busy per server and nothing else in the way (network, GC, the watchdog traffic of ${big(PAPER[PAPER.length - 1] * reqPerSec)} requests per second at the larger size). The other fan-out row scales this machine's measured last-sidecar time in proportion to the fleet; it is dominated by 2 cores running every simulated sidecar, which real hosts do not share.`,
    '* Session creation (the fleet restart row) is a write that every server logs; watch notifications for one change are sent by each server to its own sessions.',
    '',
    `Against the Synapse report (7,000 ZooKeeper reads per service in 2 minutes for a 1,000-node deploy, about 58 per second): Synapse's ZooKeeper watcher answers every event with exists, getChildren and a getData of every child (2 + M reads per agent per change, airbnb/synapse \`lib/synapse/service_watcher/zookeeper.rb\`, \`watcher_callback\` -> \`watch\` + \`discover\` -> \`read\`), so its cost per change grows with the service's size; proxymgr's ChildrenCache measured ${f2(a.reads)} reads per sidecar for an added instance and ${f2(d.reads)} for a removed one whatever M is, and one \`onUpdate\` per change. A deploy that replaces R instances costs a proxymgr fleet of S sidecars about ${f2(a.reads + d.reads)} x R x S reads, against (2 + M) x 2 x R x S. The steady state is another matter: the session watchdog's \`exists /\` (every third of the session timeout, as often as an idle ZooKeeper client pings) is ${f2(reqPerSec)} requests per second per sidecar whether anything changes or not, ${big(1000 * reqPerSec * 120)} requests in 2 minutes for 1,000 idle sidecars, about ${Math.round((1000 * reqPerSec * 120) / 7000)} times the reported per-service deploy burst; at any fleet size it outweighs change reads unless instances change more often than every ${f1((a.reads + d.reads) / 2 / reqPerSec)} s.`,
  );
  return out.join('\n');
}

async function run(): Promise<string> {
  const t0 = Date.now();
  const ens = new TestEnsemble();
  let writer: ZkTestClient | undefined;
  try {
    await ens.start();
    // The writer is the bench's own client (on server 1); its session and packets are left out of every count.
    writer = await ens.nodes[0].client();
    await writer.mkdirp(PATH);
    for (const i of BASE) await writer.put(`${PATH}/${i.name}`, i.data);
    const jvm = ens.nodes.map((n) => javaPid(n.dir));
    const writerSid = sidOf(writer);
    // The ensemble's own idle CPU (ticks, quorum pings, GC), subtracted from every fleet figure.
    const b0 = await serverStats(ens, jvm, writerSid);
    const bt = now();
    await sleep(Math.min(IDLE_MS, 10_000));
    const b1 = await serverStats(ens, jvm, writerSid);
    const baselineCpuPerMs = (total(b1, (s) => s.cpuMs) - total(b0, (s) => s.cpuMs)) / (now() - bt);
    const results: FleetResult[] = [];
    for (const n of SIZES) results.push(await measureFleet(ens, writer, jvm, n, baselineCpuPerMs));
    const storm = STORM > 0 ? await measureStorm(ens, writer, jvm, STORM) : undefined;
    return report(results, storm, { cpuMsPerMin: baselineCpuPerMs * 60_000 }, Date.now() - t0);
  } finally {
    writer?.close();
    await ens.cleanup();
  }
}

export const fleet: Bench = { title: 'Fleet: many sidecars on one ZooKeeper ensemble (`bench/fleet.ts`)', run };

if (require.main === module) runAlone(fleet);
