/**
 * Scale: how the agent's costs grow with the number of services. For 100, 1,000, 5,000
 * and 10,000 services of 20 servers each: cold start to serving (agent vs HAProxy's own
 * start), render time, `haproxy -c` time, agent RSS; then, on the running agent, two
 * change steps, each a stream of service-file rewrites (temp file + rename, as config
 * management writes them):
 *   (a) replace: one server of a random service replaced per event (one removed, another
 *       added; the service keeps 20), 300 events at 100/s -> agent CPU per event;
 *   (b) mixed: one server added, removed or re-weighted per event, 1,000 events at
 *       200/s -> lag after the last write until HAProxy runs every final server.
 * Then a burst of ZooKeeper instance creations (100 services x 100 instances) and how
 * long until HAProxy runs them all; and a verdict on the scaling targets.
 *
 *   node .tmp/bench/bench/scale.js     (BENCH_QUICK=1: sizes 100 and 1,000, a 2,000-event burst)
 *   BENCH_SCALE=100,2000               sizes to run (comma list; default 100,1000,5000,10000)
 *   BENCH_SCALE_CPU_EVENTS, BENCH_SCALE_CPU_RATE  step (a): replace events per size (300) and their pace per second (100)
 *   BENCH_SCALE_EVENTS, BENCH_SCALE_RATE  step (b): mixed changes per size (1,000) and their pace per second (200); 0 skips
 *   BENCH_SCALE_BURST                  ZooKeeper instances created in the burst (10,000; quick 2,000); 0 skips it
 *   BENCH_SCALE_LIMIT_S                how long one step may take before it is reported as not done (180):
 *                                      the agent's start, and each change step after its last write
 *   BENCH_SCALE_DUMP=DIR               keep each agent's log lines in DIR (for diagnosis)
 *   BENCH_VERBOSE=1                    progress and raw results on stderr
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'node-zookeeper-client';
import { AgentFixture, ROOT, type LogLine } from '../test/support/agent';
import { isListening } from '../test/support/net';
import { TestZooKeeper, type ZkTestClient } from '../test/support/zookeeper';
import { RuntimeClient } from '../src/haproxy/runtime-client';
import { checkConfig } from '../src/haproxy/config-check';
import { renderConfig, type RenderSettings } from '../src/render/render';
import { loadTemplates } from '../src/render/templates';
import type { DesiredService } from '../src/model/desired';
import type { ActualServer } from '../src/model/actual';
import { QUICK, size, ms, table, machine, rssMb, cpuMs, pct, runAlone, type Bench } from './lib/report';

const SERVERS = 20;
/** Each service draws its servers from a pool twice this size, so changes can add and remove. */
const POOL = 2 * SERVERS;
const SIZES = (process.env.BENCH_SCALE ?? (QUICK ? '100,1000' : '100,1000,5000,10000'))
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
/** Step (a): replace-one-server events, for the agent's CPU per event. */
const CPU_EVENTS = size('BENCH_SCALE_CPU_EVENTS', 300, 300);
const CPU_RATE = size('BENCH_SCALE_CPU_RATE', 100, 100);
/** Step (b): mixed changes, for the lag after the last write. */
const EVENTS = size('BENCH_SCALE_EVENTS', 1000, 1000);
const RATE = size('BENCH_SCALE_RATE', 200, 200);
/** BENCH_SCALE_BURST=0 skips the burst; BENCH_SCALE= (empty) skips the sizes. */
const BURST = size('BENCH_SCALE_BURST', 10_000, 2000);
const BURST_SERVICES = 100;
/** A step slower than this is a finding, not something to wait out. */
const STEP_LIMIT_MS = size('BENCH_SCALE_LIMIT_S', 180, 180) * 1000;
/** How often the change steps poll `show servers state` once the writes are done (the lag's resolution). */
const POLL_MS = 20;
const DEFAULTS = ['mode tcp', 'balance roundrobin', 'timeout connect 1s', 'timeout client 10s', 'timeout server 10s'];

/** The issue's targets. */
const TARGET = { cpuPerEventAt100Ms: 3, cpuGrowth: 2, lagMs: 250, coldStart1kMs: 1500, coldStart10kMs: 15_000, rss10kMb: 500, rss1kMb: 150 };

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const median = (xs: number[]) => pct(xs, 50);
const mb = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const pad = (i: number) => `svc${String(i).padStart(5, '0')}`;
const sz = (n: number) => n.toLocaleString('en-US');
const verbose = (...args: unknown[]) => {
  if (process.env.BENCH_VERBOSE) console.error(`scale [${new Date().toISOString().slice(11, 19)}]:`, ...args);
};

/** Peak resident set size (VmHWM) in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (user + system) of a process's children that have exited and been waited for (`haproxy -c`), in ms. */
function childCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port such that base..base+n-1 are all free on 127.0.0.1, below the ephemeral range (32768). */
async function freeRange(n: number): Promise<number> {
  for (const first of [20000, 10000, 1024]) {
    let base = first;
    for (let p = base; base + n <= 32768; p += 1) {
      if (p === base + n) return base;
      if (!(await canBind(p))) base = p + 1;
    }
  }
  throw new Error(`no free range of ${n} ports found below 32768`);
}

/** Server j of service i: a distinct address per (service, slot); nothing needs to listen there. */
const address = (i: number, j: number) => `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`;

/** What the bench wants each service to run: slot -> weight (undefined = default 1). */
type Wanted = Map<number, number | undefined>;

function blob(i: number, port: number, wanted: Wanted): unknown {
  const servers = [...wanted].map(([j, w]) => (w === undefined ? `${address(i, j)}:8080` : { address: address(i, j), port: 8080, weight: w }));
  return { type: 'static', port, servers };
}

function initialWanted(): Wanted {
  return new Map(Array.from({ length: SERVERS }, (_, j) => [j, undefined]));
}

/** The services as the agent models them, for the in-process render and check. */
function model(n: number, base: number): DesiredService[] {
  return Array.from({ length: n }, (_, i) => ({
    name: pad(i),
    listen: { port: base + i, listenOptions: [], serverOptions: [] },
    servers: Array.from({ length: SERVERS }, (_, j) => ({ address: address(i, j), port: 8080 })),
  }));
}

function logTime(l: LogLine | undefined): number {
  return l && typeof l.time === 'string' ? Date.parse(l.time) : NaN;
}

async function countListening(base: number, n: number): Promise<number> {
  let ok = 0;
  for (let from = 0; from < n; from += 200) {
    const batch = Array.from({ length: Math.min(200, n - from) }, (_, k) => isListening(base + from + k));
    ok += (await Promise.all(batch)).filter(Boolean).length;
  }
  return ok;
}

/** True when HAProxy runs exactly the wanted servers (ignoring ones in maint on their way out) with their weights. */
function matches(actual: readonly ActualServer[] | undefined, i: number, wanted: Wanted): boolean {
  if (!actual) return false;
  const live = actual.filter((s) => !s.maint);
  if (live.length !== wanted.size) return false;
  const byName = new Map(live.map((s) => [s.name, s]));
  for (const [j, w] of wanted) {
    const s = byName.get(`${address(i, j)}:8080`);
    if (!s || s.weight !== (w ?? 1)) return false;
  }
  return true;
}

/** Warnings and errors the agent logged since `from`, as "event xN" (what went wrong, if anything). */
function problems(agent: AgentFixture, from: number, to = agent.logs.length): string {
  const counts = new Map<string, number>();
  for (const l of agent.logs.slice(from, to)) if (Number(l.level) >= 40) counts.set(String(l.event ?? l.msg), (counts.get(String(l.event ?? l.msg)) ?? 0) + 1);
  return [...counts].map(([e, c]) => `${e} x${c}`).join(', ') || 'none';
}

function dump(agent: AgentFixture, tag: string): void {
  const dir = process.env.BENCH_SCALE_DUMP;
  if (dir) writeFileSync(join(dir, `${tag}.log`), agent.logs.map((l) => JSON.stringify(l)).join('\n'));
}

/** Waits (bounded) until the agent is quiet: less than 25 ms CPU in half a second. */
async function settle(pid: number, maxMs = 15_000): Promise<void> {
  const until = performance.now() + maxMs;
  for (let c = cpuMs(pid); performance.now() < until; ) {
    await sleep(500);
    const now = cpuMs(pid);
    if (now - c < 25) return;
    c = now;
  }
}

/** One change step: `events` service-file rewrites at `rate` per second, then wait until HAProxy runs them all. */
interface StepResult {
  events: number;
  rate: number;
  /** Agent CPU (user + system) from the first write until done, ms per event. */
  cpuPerEvent: number;
  /** Exited children of the agent (`haproxy -c`, ...) over the same time, ms per event. */
  childCpuPerEvent: number;
  haproxyCpuPerEvent: number;
  /** Largest lateness of a write behind its schedule (the bench itself falling behind). */
  writeLateMs: number;
  wallMs: number;
  lagMs: number;
  services: number;
  plans: number;
  reloads: number;
  pidSame: boolean;
  applied: boolean;
  warnings: string;
}

interface Ctx {
  n: number;
  base: number;
  agent: AgentFixture;
  client: RuntimeClient;
  pid: number;
  hpid: number;
  wanted: Wanted[];
  rand: (k: number) => number;
}

async function changeStep(c: Ctx, events: number, rate: number, mutate: (w: Wanted) => void): Promise<StepResult> {
  const { n, base, agent, client, pid, hpid, wanted, rand } = c;
  const from = agent.mark();
  const touched = new Set<number>();
  // A service is not picked again within the next 10 events (when there are enough), so
  // rewrites of the same file do not coalesce into one: each event is a change of its own.
  const recent: number[] = [];
  const avoid = Math.min(10, n - 1);
  const cpu0 = cpuMs(pid);
  const ccpu0 = childCpuMs(pid);
  const hcpu0 = cpuMs(hpid);
  let writeLateMs = 0;
  const e0 = performance.now();
  for (let e = 0; e < events; e++) {
    const due = e0 + (e * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    writeLateMs = Math.max(writeLateMs, performance.now() - due);
    let i = rand(n);
    while (recent.includes(i)) i = rand(n);
    recent.push(i);
    if (recent.length > avoid) recent.shift();
    mutate(wanted[i]);
    touched.add(i);
    agent.writeService(pad(i), blob(i, base + i, wanted[i]));
  }
  const writesDone = performance.now();
  // The final files are written: a service that runs its final servers is done.
  const pending = new Set(touched);
  while (pending.size && performance.now() - writesDone < STEP_LIMIT_MS) {
    const names = [...pending];
    const st = await client.serversStateOf(names.map(pad)).catch(() => undefined);
    for (const i of names) if (st && matches(st.get(pad(i)), i, wanted[i])) pending.delete(i);
    if (pending.size) await sleep(POLL_MS);
  }
  const doneAt = performance.now();
  const applied = pending.size === 0;
  return {
    events,
    rate,
    cpuPerEvent: (cpuMs(pid) - cpu0) / events,
    childCpuPerEvent: (childCpuMs(pid) - ccpu0) / events,
    haproxyCpuPerEvent: (cpuMs(hpid) - hcpu0) / events,
    writeLateMs,
    wallMs: doneAt - e0,
    lagMs: doneAt - writesDone,
    services: touched.size,
    plans: agent.events('plan', from).length,
    reloads: agent.events('reload', from).length,
    pidSame: (await agent.haproxyPid().catch(() => -1)) === hpid,
    applied,
    warnings: problems(agent, from),
  };
}

interface SizeResult {
  n: number;
  /** Why the size has no measurements past the start, if it has none. */
  failed?: string;
  coldStartMs: number;
  nodeBootMs: number;
  loadMs: number;
  startLogMs: number;
  haproxyMs: number;
  serving: number;
  renderMs: number;
  renders: number;
  configMb: number;
  checkMs: number;
  checks: number;
  rssMb: number;
  rssPeakMb: number;
  haproxyRssMb: number;
  idleCpuMs: number;
  replace?: StepResult;
  mixed?: StepResult;
  /** Why step (b) did not run. */
  mixedSkipped?: string;
  /** The agent's warnings and errors from its start until the change steps. */
  startWarnings: string;
}

/** Render and `haproxy -c` in-process on the same model the agent would build. */
async function renderAndCheck(n: number, base: number): Promise<{ renderMs: number; renders: number; configMb: number; checkMs: number; checks: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'pmgr-scale-'));
  try {
    const templates = loadTemplates(join(ROOT, 'templates'));
    const settings: RenderSettings = {
      socketPath: join(dir, 'admin.sock'),
      stateFile: join(dir, 'server-state'),
      bindAddress: '127.0.0.1',
      hardStopAfter: '10s',
      global: ['maxconn 4096'],
      defaults: DEFAULTS,
    };
    const services = model(n, base);
    // Warm-up (compile the templates, JIT): the whole model, or 100 services above 5,000 to keep the run short.
    let text = renderConfig(templates, settings, n > 5000 ? model(100, base) : services);
    const renders: number[] = [];
    for (let k = 0; k < (n > 5000 ? 1 : n >= 5000 ? 3 : 5); k++) {
      const t = performance.now();
      text = renderConfig(templates, settings, services);
      renders.push(performance.now() - t);
    }
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, text);
    writeFileSync(settings.stateFile, '1\n');
    const checks: number[] = [];
    for (let k = 0; k < (n >= 5000 ? 1 : 3); k++) {
      const t = performance.now();
      const res = await checkConfig('haproxy', file, text, STEP_LIMIT_MS);
      checks.push(performance.now() - t);
      if (!res.ok) throw new Error(`haproxy -c refused the ${n}-service config: ${res.output.slice(0, 500)}`);
    }
    return { renderMs: median(renders), renders: renders.length, configMb: Buffer.byteLength(text) / 2 ** 20, checkMs: median(checks), checks: checks.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Step (a): one server replaced: a present one removed, one from the pool added; the count stays. */
function replaceOne(rand: (k: number) => number): (w: Wanted) => void {
  return (w) => {
    const present = [...w.keys()];
    const free = Array.from({ length: POOL }, (_, j) => j).filter((j) => !w.has(j));
    w.delete(present[rand(present.length)]);
    w.set(free[rand(free.length)], undefined);
  };
}

/** Step (b): one server added, removed or re-weighted. */
function mixedOne(rand: (k: number) => number): (w: Wanted) => void {
  return (w) => {
    const kind = rand(3);
    const present = [...w.keys()];
    if (kind === 0 && w.size < POOL) {
      const free = Array.from({ length: POOL }, (_, j) => j).filter((j) => !w.has(j));
      w.set(free[rand(free.length)], undefined);
    } else if (kind === 1 && w.size > 2) {
      w.delete(present[rand(present.length)]);
    } else {
      const j = present[rand(present.length)];
      w.set(j, ((w.get(j) ?? 1) % 100) + 1 + rand(50));
    }
  };
}

async function measureSize(n: number): Promise<SizeResult> {
  const base = await freeRange(n);
  verbose(`${sz(n)} services: ports ${base}..${base + n - 1}; rendering and checking in-process`);
  const offline = await renderAndCheck(n, base);
  verbose(`${sz(n)} services: render ${ms(offline.renderMs)} ms, haproxy -c ${ms(offline.checkMs)} ms; starting the agent`);
  const wanted = Array.from({ length: n }, initialWanted);
  const services: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) services[pad(i)] = blob(i, base + i, wanted[i]);
  const agent = new AgentFixture({ services, defaults: DEFAULTS, logLevel: 'info', runtime: { drift_interval_ms: 0 } });
  const empty = { coldStartMs: NaN, nodeBootMs: NaN, loadMs: NaN, startLogMs: NaN, haproxyMs: NaN, serving: 0, rssMb: NaN, rssPeakMb: NaN, haproxyRssMb: NaN, idleCpuMs: NaN };
  try {
    // Cold start: spawn -> the last service's port accepts a connection.
    const spawnedAt = Date.now();
    const t0 = performance.now();
    let servingAt = NaN;
    let starting = true;
    const poll = (async () => {
      while (starting) {
        if (await isListening(base + n - 1)) return (servingAt = performance.now());
        await sleep(5);
      }
      return NaN;
    })();
    let startError = '';
    try {
      await agent.start();
    } catch (err) {
      // The fixture gives up after 15 s; a slow start is a result, so keep waiting (bounded).
      startError = (err as Error).message.split('\n')[0];
      if (agent.proc && agent.proc.exitCode === null && /timed out/.test(startError)) {
        startError = '';
        await agent
          .waitLog((l) => l.event === 'start' || l.event === 'apply_failed', Math.max(0, STEP_LIMIT_MS - (performance.now() - t0)))
          .catch((e: Error) => (startError = e.message.split('\n')[0]));
      }
    }
    const startLine = agent.events('start')[0];
    if (!startLine) {
      // A size that does not start is reported as such; the other sizes still run.
      starting = false;
      const why = agent.events('apply_failed')[0];
      const failed = why ? `start failed: ${String(why.msg ?? why.event)}` : /timed out/.test(startError) ? `not started after ${STEP_LIMIT_MS / 1000} s` : `start failed: ${startError}`;
      verbose(`${sz(n)} services: ${failed}`);
      return { n, failed, ...offline, ...empty, startWarnings: problems(agent, 0) };
    }
    await Promise.race([poll, sleep(10_000)]);
    starting = false;
    const coldStartMs = servingAt - t0;
    const serving = await countListening(base, n);
    const firstLog = logTime(agent.logs[0]);
    const lastDefined = Math.max(...agent.events('service_defined').map(logTime));
    verbose(`${sz(n)} services: serving after ${ms(coldStartMs)} ms (start line: ${String(startLine.ms)} ms, HAProxy ${String(startLine.haproxy_ms)} ms)`);

    // Settle (the first runtime pass after start reads every backend), then memory and idle CPU.
    const pid = agent.proc!.pid!;
    const hpid = await agent.haproxyPid();
    await settle(pid);
    const idle0 = cpuMs(pid);
    await sleep(2000);
    const idleCpuMs = cpuMs(pid) - idle0;
    const rss = rssMb(pid);
    const haproxyRss = rssMb(hpid);

    let seed = 42;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % k;
    };
    const startWarnings = problems(agent, 0);
    const ctx: Ctx = { n, base, agent, client: new RuntimeClient(agent.socketPath, 30_000), pid, hpid, wanted, rand };

    // (a) CPU per event: one server replaced per event.
    const replace = CPU_EVENTS > 0 ? await changeStep(ctx, CPU_EVENTS, CPU_RATE, replaceOne(rand)) : undefined;
    if (replace) verbose(`${sz(n)} services: replace step`, replace);

    // (b) Lag at RATE: mixed changes. Not after an (a) that never finished: the agent would still be busy with it.
    let mixed: StepResult | undefined;
    let mixedSkipped: string | undefined;
    if (EVENTS <= 0) mixedSkipped = 'BENCH_SCALE_EVENTS=0';
    else if (replace && !replace.applied) mixedSkipped = 'step (a) not applied';
    else {
      await settle(pid);
      mixed = await changeStep(ctx, EVENTS, RATE, mixedOne(rand));
      verbose(`${sz(n)} services: mixed step`, mixed);
    }
    return {
      n,
      coldStartMs,
      nodeBootMs: firstLog - spawnedAt,
      loadMs: lastDefined - firstLog,
      startLogMs: Number(startLine.ms),
      haproxyMs: Number(startLine.haproxy_ms),
      serving,
      ...offline,
      rssMb: rss,
      rssPeakMb: peakRssMb(pid),
      haproxyRssMb: haproxyRss,
      idleCpuMs,
      replace,
      mixed,
      mixedSkipped,
      startWarnings,
    };
  } finally {
    dump(agent, `scale-${n}`);
    await agent.cleanup();
  }
}

interface BurstResult {
  services: number;
  perService: number;
  writeMs: number;
  appliedMs: number;
  lastPlanMs: number;
  applied: boolean;
  reloads: number;
  plans: number;
  commands: number;
  cpuMs: number;
  haproxyCpuMs: number;
  rssPeakMb: number;
  warnings: string;
}

/** 100 ZooKeeper-watched services, then `BURST` instance znodes created with as many requests in flight as the client takes. */
async function burst(): Promise<BurstResult> {
  const perService = Math.max(1, Math.round(BURST / BURST_SERVICES));
  const zk = new TestZooKeeper();
  let agent: AgentFixture | undefined;
  let zc: ZkTestClient | undefined;
  try {
    await zk.start();
    const writer = (zc = await zk.client());
    const base = await freeRange(BURST_SERVICES);
    const inst = (i: number, k: number) => ({ address: `10.100.${i}.${1 + (k % 250)}`, port: 8080 + Math.floor(k / 250) });
    // Every service starts with one instance, so none starts empty.
    await Promise.all(
      Array.from({ length: BURST_SERVICES }, async (_, i) => {
        await writer.put(`/inst/${pad(i)}/base`, { address: `10.101.${i}.1`, port: 8080 });
        await writer.put(`/svc/${pad(i)}`, { type: 'zookeeper', server: zk.connectString, path: `/inst/${pad(i)}`, port: base + i });
      }),
    );
    agent = new AgentFixture({
      serviceConfig: { type: 'zookeeper', servers: zk.connectString, path: '/svc' },
      defaults: DEFAULTS,
      logLevel: 'info',
      runtime: { drift_interval_ms: 0 },
    });
    await agent.start();
    const pid = agent.proc!.pid!;
    const client = new RuntimeClient(agent.socketPath, 30_000);
    await sleep(500);
    const from = agent.mark();
    const hpid = await agent.haproxyPid();
    const cpu0 = cpuMs(pid);
    const hcpu0 = cpuMs(hpid);
    const raw: Client = writer.client;
    const t0 = performance.now();
    let writeMs = NaN;
    const writes = new Promise<void>((resolve, reject) => {
      let left = BURST_SERVICES * perService;
      for (let k = 0; k < perService; k++) {
        for (let i = 0; i < BURST_SERVICES; i++) {
          raw.create(`/inst/${pad(i)}/i${k}`, Buffer.from(JSON.stringify(inst(i, k))), (err) => {
            if (err) return reject(err);
            if (--left === 0) {
              writeMs = performance.now() - t0;
              resolve();
            }
          });
        }
      }
    });
    writes.catch(() => undefined);
    let appliedMs = NaN;
    let applied = false;
    while (performance.now() - t0 < STEP_LIMIT_MS) {
      await sleep(50);
      const st = await client.showServersState().catch(() => undefined);
      if (!st) continue;
      const live = new Map<string, number>();
      for (const s of st) if (!s.maint) live.set(s.backend, (live.get(s.backend) ?? 0) + 1);
      if (Array.from({ length: BURST_SERVICES }, (_, i) => live.get(pad(i)) === perService + 1).every(Boolean)) {
        appliedMs = performance.now() - t0;
        applied = true;
        break;
      }
    }
    await writes;
    // The agent logs a plan after its batch is answered; wait (bounded) until the plans account for every instance.
    const added = () => agent!.events('plan', from).reduce((a, p) => a + ((p.changes as Array<{ added?: string[] }>) ?? []).reduce((b, c) => b + (c.added?.length ?? 0), 0), 0);
    for (const until = performance.now() + 30_000; added() < BURST_SERVICES * perService && performance.now() < until; ) await sleep(50);
    const plans = agent.events('plan', from);
    const t0Epoch = Date.now() - (performance.now() - t0);
    return {
      services: BURST_SERVICES,
      perService,
      writeMs,
      appliedMs,
      lastPlanMs: plans.length ? logTime(plans[plans.length - 1]) - t0Epoch : NaN,
      applied,
      reloads: agent.events('reload', from).length,
      plans: plans.length,
      commands: plans.reduce((a, p) => a + Number(p.runtime_cmds ?? 0), 0),
      cpuMs: cpuMs(pid) - cpu0,
      haproxyCpuMs: cpuMs(hpid) - hcpu0,
      rssPeakMb: peakRssMb(pid),
      warnings: problems(agent, from),
    };
  } finally {
    zc?.close();
    if (agent) dump(agent, 'burst');
    await agent?.cleanup();
    await zk.cleanup();
  }
}

const x = (v: number, v0: number) => (Number.isFinite(v) && Number.isFinite(v0) && v0 > 0 ? `${(v / v0).toFixed(1)}x` : '–');
/** "≥ " before a figure measured on a step that gave up: the real value is at least that. */
const lb = (s: StepResult | undefined) => (s && !s.applied ? '≥ ' : '');
const cpuPerReplace = (r: SizeResult) => r.replace?.cpuPerEvent ?? NaN;
const lagOf = (r: SizeResult) => r.mixed?.lagMs ?? NaN;

function growth(results: SizeResult[]): string {
  const b = results[0];
  return table(
    ['services', 'size', 'cold start', 'load services', 'HAProxy start', 'render', '`haproxy -c`', 'agent RSS', 'agent CPU / replace event', 'agent CPU / mixed event', 'lag after last write'],
    results.map((r) => [
      sz(r.n),
      x(r.n, b.n),
      x(r.coldStartMs, b.coldStartMs),
      x(r.loadMs, b.loadMs),
      x(r.haproxyMs, b.haproxyMs),
      x(r.renderMs, b.renderMs),
      x(r.checkMs, b.checkMs),
      x(r.rssMb, b.rssMb),
      `${lb(r.replace)}${x(cpuPerReplace(r), cpuPerReplace(b))}`,
      `${lb(r.mixed)}${x(r.mixed?.cpuPerEvent ?? NaN, b.mixed?.cpuPerEvent ?? NaN)}`,
      `${lb(r.mixed)}${x(lagOf(r), lagOf(b))}`,
    ]),
  );
}

function stepRow(r: SizeResult, s: StepResult | undefined, skipped: string | undefined, cells: (s: StepResult) => Array<string | number>, width: number): Array<string | number> {
  if (s) return [sz(r.n), ...cells(s)];
  const why = r.failed ?? skipped ?? 'not run';
  return [sz(r.n), why, ...Array.from({ length: width - 2 }, () => '–')];
}

/** The issue's targets, each with what was measured and met / **missed** (or not measured at this run's sizes). */
function targets(results: SizeResult[]): string {
  const at = (n: number) => results.find((r) => r.n === n && !r.failed);
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rows: Array<[string, string, string]> = [];
  const none = (what: string, n: number): [string, string, string] => {
    const r = results.find((q) => q.n === n);
    return [what, r?.failed ?? `${sz(n)} not in this run`, r?.failed ? '**missed**' : 'not measured'];
  };
  const a100 = at(100);
  const cpuTarget = `agent CPU per single-server change (replace) at 100 services ≤ ${TARGET.cpuPerEventAt100Ms} ms`;
  if (a100?.replace) rows.push([cpuTarget, `${lb(a100.replace)}${ms(a100.replace.cpuPerEvent)} ms`, verdict(a100.replace.applied && a100.replace.cpuPerEvent <= TARGET.cpuPerEventAt100Ms)]);
  else rows.push(none(cpuTarget, 100));
  for (const n of [5000, 10000]) {
    const what = `agent CPU per replace event at ${sz(n)} within ${TARGET.cpuGrowth}x of 100 services`;
    const r = at(n);
    if (!r?.replace || !a100?.replace) {
      rows.push(r?.replace ? [what, `${lb(r.replace)}${ms(r.replace.cpuPerEvent)} ms; 100 services not measured`, 'not measured'] : none(what, n));
      continue;
    }
    const ratio = r.replace.cpuPerEvent / a100.replace.cpuPerEvent;
    rows.push([what, `${lb(r.replace)}${ms(r.replace.cpuPerEvent)} ms = ${lb(r.replace)}${ratio.toFixed(1)}x`, verdict(r.replace.applied && a100.replace.applied && ratio <= TARGET.cpuGrowth)]);
  }
  const lagWhat = `lag after the last write at ${RATE}/s ≤ ${TARGET.lagMs} ms at every size`;
  if (results.length) {
    const lags = results.map((r) => `${sz(r.n)}: ${r.mixed ? `${lb(r.mixed)}${ms(r.mixed.lagMs)} ms` : (r.failed ?? r.mixedSkipped ?? 'not run')}`);
    const ok = results.every((r) => r.mixed?.applied && r.mixed.lagMs <= TARGET.lagMs);
    rows.push([lagWhat, lags.join('; '), verdict(ok)]);
  } else rows.push([lagWhat, 'no sizes in this run', 'not measured']);
  for (const [n, limit] of [
    [1000, TARGET.coldStart1kMs],
    [10000, TARGET.coldStart10kMs],
  ] as const) {
    const what = `cold start at ${sz(n)} < ${limit / 1000} s`;
    const r = at(n);
    rows.push(r ? [what, `${ms(r.coldStartMs)} ms (HAProxy ${ms(r.haproxyMs)} ms)`, verdict(r.coldStartMs < limit)] : none(what, n));
  }
  for (const [n, limit] of [
    [1000, TARGET.rss1kMb],
    [10000, TARGET.rss10kMb],
  ] as const) {
    const what = `agent RSS after start at ${sz(n)} < ${limit} MB`;
    const r = at(n);
    rows.push(r ? [what, `${mb(r.rssMb)} MB (peak ${mb(r.rssPeakMb)} MB)`, verdict(r.rssMb < limit)] : none(what, n));
  }
  const met = rows.filter((r) => r[2] === 'met').length;
  const judged = rows.filter((r) => r[2] !== 'not measured').length;
  return [table(['target', 'measured', 'verdict'], rows), '', `Verdict: ${met} of ${judged} targets measured in this run met${met === judged ? '' : ` (**missed**: ${rows.filter((r) => r[2] === '**missed**').length})`}.`].join('\n');
}

async function run(): Promise<string> {
  const results: SizeResult[] = [];
  for (const n of SIZES) {
    const t = performance.now();
    results.push(await measureSize(n));
    verbose(`${sz(n)} services done in ${ms(performance.now() - t)} ms`, results[results.length - 1]);
  }
  const b = BURST > 0 ? await burst() : undefined;
  if (b) verbose('burst', b);
  const out = [
    `Machine: ${machine()}. Each service is a static list of ${SERVERS} servers (\`mode tcp\`, no health checks; the servers need not exist), one file per service, every rewrite a temp file renamed over it; drift repair off.`,
    '',
  ];
  if (results.length) {
    const failedRow = (r: SizeResult, width: number) => [sz(r.n), r.failed!, ...Array.from({ length: width - 2 }, () => '–')];
    const base = results.find((r) => r.n === 100 && r.replace) ?? results.find((r) => r.replace);
    out.push(
      "Cold start: from spawning `proxymgr run` until the last service's port accepts a TCP connection; the split comes from the agent's log timestamps (Node boot = spawn to the first log line; load = to the last `service_defined`; the `start` line's `ms` covers render, `haproxy -c`, write and HAProxy answering, of which `haproxy_ms` is HAProxy's own start; agent = cold start minus HAProxy's own start).",
      '',
      table(
        ['services', 'servers', 'cold start (ms)', 'Node boot', 'load services', '`start` ms', 'of which HAProxy', 'agent (cold start − HAProxy)', 'ports serving', 'agent warnings'],
        results.map((r) =>
          r.failed
            ? [sz(r.n), sz(r.n * SERVERS), r.failed, '–', '–', '–', '–', '–', '–', r.startWarnings]
            : [sz(r.n), sz(r.n * SERVERS), ms(r.coldStartMs), ms(r.nodeBootMs), ms(r.loadMs), ms(r.startLogMs), ms(r.haproxyMs), ms(r.coldStartMs - r.haproxyMs), `${r.serving}/${r.n}`, r.startWarnings],
        ),
      ),
      '',
      'Render and check, in-process on the same services: `renderConfig` (after a warm-up render, median of 5, 3 at 5,000, 1 above 5,000 where the warm-up is 100 services) and `checkConfig`, i.e. `haproxy -c` on the rendered file (median of 3, 1 from 5,000); memory of the running agent once it is quiet after start (peak = VmHWM over the whole run, events included); idle CPU over the next 2 s.',
      '',
      table(
        ['services', 'config (MB)', 'render (ms)', '`haproxy -c` (ms)', 'agent RSS (MB)', 'agent peak RSS (MB)', 'HAProxy RSS (MB)', 'agent idle CPU (ms / 2 s)'],
        results.map((r) => [sz(r.n), r.configMb.toFixed(1), ms(r.renderMs), ms(r.checkMs), mb(r.rssMb), mb(r.rssPeakMb), mb(r.haproxyRssMb), ms(r.idleCpuMs)]),
      ),
      '',
      `(a) One server replaced per event: ${sz(CPU_EVENTS)} service-file rewrites at ${CPU_RATE}/s, each removing one server of a random ${SERVERS}-server service and adding another (a service is not picked again within 10 events); done = \`show servers state\` of every touched service (polled every ${POLL_MS} ms after the last write) shows the final servers. CPU is user + system time of the agent process from the first write until done, per event (the agent's exited children, i.e. \`haproxy -c\` runs, and HAProxy apart); at 100 services this is the single-server-change figure. "Bench late" is how far the bench's own writes fell behind their schedule (a loaded machine).`,
      '',
      table(
        ['services', 'agent CPU / event (ms)', 'agent children (`haproxy -c`) / event (ms)', 'HAProxy CPU / event (ms)', 'services touched', 'first write to done (ms)', 'lag after last write (ms)', 'plans', 'reloads', 'HAProxy pid unchanged', 'all applied', 'bench late (max ms)', 'agent warnings'],
        results.map((r) =>
          r.failed
            ? failedRow(r, 13)
            : stepRow(
                r,
                r.replace,
                'BENCH_SCALE_CPU_EVENTS=0',
                (s) => [
                  `${lb(s)}${ms(s.cpuPerEvent)}`,
                  `${lb(s)}${ms(s.childCpuPerEvent)}`,
                  `${lb(s)}${ms(s.haproxyCpuPerEvent)}`,
                  s.services,
                  ms(s.wallMs),
                  ms(s.lagMs),
                  s.plans,
                  s.reloads,
                  s.pidSame ? 'yes' : 'NO',
                  s.applied ? 'yes' : `NO (gave up ${STEP_LIMIT_MS / 1000} s after the last write)`,
                  ms(s.writeLateMs),
                  s.warnings,
                ],
                13,
              ),
        ),
      ),
      '',
      `(b) Mixed changes, for the lag: then, once the agent is quiet, ${sz(EVENTS)} service-file rewrites at ${RATE}/s, each adding, removing or re-weighting one server of a random service; done = \`show servers state\` of every touched service shows the final servers and weights. CPU per 1,000 events as in (a); throughput = events / first write to done. Not run after an (a) that was not applied.`,
      '',
      table(
        ['services', 'agent CPU / 1,000 events (ms)', 'HAProxy CPU / 1,000 events (ms)', 'first write to done (ms)', 'lag after last write (ms)', 'throughput (events/s)', 'plans', 'reloads', 'HAProxy pid unchanged', 'all applied', 'bench late (max ms)', 'agent warnings'],
        results.map((r) =>
          r.failed
            ? failedRow(r, 12)
            : stepRow(
                r,
                r.mixed,
                r.mixedSkipped,
                (s) => [
                  `${lb(s)}${ms(s.cpuPerEvent * 1000)}`,
                  `${lb(s)}${ms(s.haproxyCpuPerEvent * 1000)}`,
                  ms(s.wallMs),
                  `${lb(s)}${ms(s.lagMs)}`,
                  s.applied ? (s.events / (s.wallMs / 1000)).toFixed(0) : `< ${(s.events / (s.wallMs / 1000)).toFixed(1)}`,
                  s.plans,
                  s.reloads,
                  s.pidSame ? 'yes' : 'NO',
                  s.applied ? 'yes' : `NO (gave up ${STEP_LIMIT_MS / 1000} s after the last write)`,
                  ms(s.writeLateMs),
                  s.warnings,
                ],
                12,
              ),
        ),
      ),
      '',
      `Side by side: agent CPU per replace event (a) and its ratio to ${base ? `${sz(base.n)} services` : 'the first size'}, lag after the last write at ${RATE}/s (b), cold start with HAProxy's own part, agent RSS after start. "≥" marks a step that was not applied within ${STEP_LIMIT_MS / 1000} s (the figure is a lower bound).`,
      '',
      table(
        ['services', 'agent CPU / replace event (ms)', `÷ at ${base ? sz(base.n) : '–'}`, `lag at ${RATE}/s (ms)`, 'cold start (ms)', 'of which HAProxy (ms)', 'agent RSS after start (MB)'],
        results.map((r) =>
          r.failed
            ? [sz(r.n), r.failed, '–', '–', '–', '–', '–']
            : [
                sz(r.n),
                r.replace ? `${lb(r.replace)}${ms(r.replace.cpuPerEvent)}` : '–',
                r.replace && base?.replace ? `${lb(r.replace)}${x(r.replace.cpuPerEvent, base.replace.cpuPerEvent)}` : '–',
                r.mixed ? `${lb(r.mixed)}${ms(r.mixed.lagMs)}` : (r.mixedSkipped ?? '–'),
                ms(r.coldStartMs),
                ms(r.haproxyMs),
                mb(r.rssMb),
              ],
        ),
      ),
      '',
    );
  }
  if (b) {
    out.push(
      `Burst: ${b.services} services with a \`zookeeper\` watcher each (service config in ZooKeeper too), one instance each to begin with; then ${sz(b.services * b.perService)} instance znodes (${b.perService} per service) created with every request in flight at once. Times from the first write; applied = \`show servers state\` (polled every 50 ms) has every server; warnings are the agent's warn/error log lines by event.`,
      '',
      table(
        ['instances created', 'ZooKeeper writes done (ms)', 'all in HAProxy (ms)', 'last `plan` logged (ms)', 'plans', 'runtime commands', 'reloads', 'agent CPU (ms)', 'HAProxy CPU (ms)', 'agent peak RSS (MB)', 'agent warnings'],
        [[sz(b.services * b.perService), ms(b.writeMs), b.applied ? ms(b.appliedMs) : `not after ${STEP_LIMIT_MS / 1000} s`, ms(b.lastPlanMs), b.plans, sz(b.commands), b.reloads, ms(b.cpuMs), ms(b.haproxyCpuMs), mb(b.rssPeakMb), b.warnings]],
      ),
      '',
    );
  }
  if (results.length) out.push('Targets:', '', targets(results), '');
  if (results.length > 1) {
    out.push(`Cost growth: each metric at each size divided by its value at ${sz(results[0].n)} services (the size column is the ratio of services).`, '', growth(results), '');
  }
  return out.join('\n');
}

export const scale: Bench = { title: 'Scale: services x 20 servers, and a ZooKeeper burst', run };

if (require.main === module) runAlone(scale);
