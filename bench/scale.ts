/**
 * Scale: how the agent's costs grow with the number of services. For 100, 1,000 and
 * 5,000 services of 20 servers each: cold start to serving, render time, `haproxy -c`
 * time, agent RSS, CPU per 1,000 server changes; then a burst of ZooKeeper instance
 * creations (100 services x 100 instances) and how long until HAProxy runs them all.
 *
 *   node .tmp/bench/bench/scale.js     (BENCH_QUICK=1: sizes 100 and 1,000, a 2,000-event burst)
 *   BENCH_SCALE=100,2000               sizes to run (comma list)
 *   BENCH_SCALE_EVENTS, BENCH_SCALE_RATE  server changes per size (1,000) and their pace per second (200)
 *   BENCH_SCALE_BURST                  ZooKeeper instances created in the burst (10,000; quick 2,000)
 *   BENCH_SCALE_LIMIT_S                how long one step may take before it is reported as not done (180)
 *   BENCH_SCALE_DUMP=DIR               keep each agent's log lines in DIR (for diagnosis)
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
const SIZES = (process.env.BENCH_SCALE ?? (QUICK ? '100,1000' : '100,1000,5000'))
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
const EVENTS = size('BENCH_SCALE_EVENTS', 1000, 1000);
const RATE = size('BENCH_SCALE_RATE', 200, 200);
/** BENCH_SCALE_BURST=0 skips the burst; BENCH_SCALE= (empty) skips the sizes. */
const BURST = size('BENCH_SCALE_BURST', 10_000, 2000);
const BURST_SERVICES = 100;
/** A step slower than this is a finding, not something to wait out. */
const STEP_LIMIT_MS = size('BENCH_SCALE_LIMIT_S', 180, 180) * 1000;
const DEFAULTS = ['mode tcp', 'balance roundrobin', 'timeout connect 1s', 'timeout client 10s', 'timeout server 10s'];

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const median = (xs: number[]) => pct(xs, 50);
const mb = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '–');
const pad = (i: number) => `svc${String(i).padStart(5, '0')}`;

/** Peak resident set size (VmHWM) in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port such that base..base+n-1 are all free on 127.0.0.1, below the ephemeral range. */
async function freeRange(n: number): Promise<number> {
  for (const base of [20000, 25000, 15000, 10000, 5000]) {
    if (base + n > 32768) continue;
    let ok = true;
    for (let p = base; p < base + n && ok; p += 1) ok = await canBind(p);
    if (ok) return base;
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
function problems(agent: AgentFixture, from: number): string {
  const counts = new Map<string, number>();
  for (const l of agent.logs.slice(from)) if (Number(l.level) >= 40) counts.set(String(l.event ?? l.msg), (counts.get(String(l.event ?? l.msg)) ?? 0) + 1);
  return [...counts].map(([e, c]) => `${e} x${c}`).join(', ') || 'none';
}

function dump(agent: AgentFixture, tag: string): void {
  const dir = process.env.BENCH_SCALE_DUMP;
  if (dir) writeFileSync(join(dir, `${tag}.log`), agent.logs.map((l) => JSON.stringify(l)).join('\n'));
}

interface SizeResult {
  n: number;
  coldStartMs: number;
  nodeBootMs: number;
  loadMs: number;
  startLogMs: number;
  haproxyMs: number;
  serving: number;
  renderMs: number;
  configMb: number;
  checkMs: number;
  rssMb: number;
  rssPeakMb: number;
  haproxyRssMb: number;
  idleCpuMs: number;
  events: number;
  eventsWallMs: number;
  lagMs: number;
  cpuPer1k: number;
  haproxyCpuPer1k: number;
  eventReloads: number;
  plans: number;
  pidSame: boolean;
  applied: boolean;
  warnings: string;
}

/** Render and `haproxy -c` in-process on the same model the agent would build. */
async function renderAndCheck(n: number, base: number): Promise<{ renderMs: number; configMb: number; checkMs: number }> {
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
    const renders: number[] = [];
    let text = renderConfig(templates, settings, services); // warm-up: compile the templates, JIT
    for (let k = 0; k < (n >= 5000 ? 3 : 5); k++) {
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
    return { renderMs: median(renders), configMb: Buffer.byteLength(text) / 2 ** 20, checkMs: median(checks) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureSize(n: number): Promise<SizeResult> {
  const base = await freeRange(n);
  const offline = await renderAndCheck(n, base);
  const wanted = Array.from({ length: n }, initialWanted);
  const services: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) services[pad(i)] = blob(i, base + i, wanted[i]);
  const agent = new AgentFixture({ services, defaults: DEFAULTS, logLevel: 'info', runtime: { drift_interval_ms: 0 } });
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
    try {
      await agent.start();
    } catch (err) {
      // The fixture gives up after 15 s; a slow start is a result, so keep waiting (bounded).
      if (!agent.proc || agent.proc.exitCode !== null || !/timed out/.test((err as Error).message)) throw err;
      await agent.waitLog((l) => l.event === 'start' || l.event === 'apply_failed', STEP_LIMIT_MS);
    }
    const startLine = agent.events('start')[0];
    if (!startLine) throw new Error(`agent did not start ${n} services: ${JSON.stringify(agent.events('apply_failed')[0])}`);
    await Promise.race([poll, sleep(10_000)]);
    starting = false;
    const coldStartMs = servingAt - t0;
    const serving = await countListening(base, n);
    const firstLog = logTime(agent.logs[0]);
    const lastDefined = Math.max(...agent.events('service_defined').map(logTime));

    // Settle (the first runtime pass after start reads every backend), then memory and idle CPU.
    const pid = agent.proc!.pid!;
    const hpid = await agent.haproxyPid();
    for (let k = 0, c = cpuMs(pid); k < 30; k++) {
      await sleep(500);
      const now = cpuMs(pid);
      if (now - c < 25) break;
      c = now;
    }
    const idle0 = cpuMs(pid);
    await sleep(2000);
    const idleCpuMs = cpuMs(pid) - idle0;
    const rss = rssMb(pid);
    const haproxyRss = rssMb(hpid);

    // CPU per 1,000 events: rewrite random service files at a steady pace, one server change each.
    const client = new RuntimeClient(agent.socketPath, 30_000);
    const from = agent.mark();
    const touched = new Set<number>();
    let seed = 42;
    const rand = (k: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % k;
    };
    const cpu0 = cpuMs(pid);
    const hcpu0 = cpuMs(hpid);
    const e0 = performance.now();
    for (let e = 0; e < EVENTS; e++) {
      const due = e0 + (e * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const i = rand(n);
      const w = wanted[i];
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
      touched.add(i);
      agent.writeService(pad(i), blob(i, base + i, w));
    }
    const writesDone = performance.now();
    // The final files are written: a service that runs its final servers is done (polled less as they finish).
    const pending = new Set(touched);
    while (pending.size && performance.now() - writesDone < STEP_LIMIT_MS) {
      const names = [...pending];
      const st = await client.serversStateOf(names.map(pad)).catch(() => undefined);
      for (const i of names) if (st && matches(st.get(pad(i)), i, wanted[i])) pending.delete(i);
      if (pending.size) await sleep(100);
    }
    const applied = pending.size === 0;
    const doneAt = performance.now();
    const cpuPer1k = ((cpuMs(pid) - cpu0) * 1000) / EVENTS;
    const haproxyCpuPer1k = ((cpuMs(hpid) - hcpu0) * 1000) / EVENTS;
    const rssPeak = peakRssMb(pid);
    const pidSame = (await agent.haproxyPid().catch(() => -1)) === hpid;
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
      rssPeakMb: rssPeak,
      haproxyRssMb: haproxyRss,
      idleCpuMs,
      events: EVENTS,
      eventsWallMs: doneAt - e0,
      lagMs: doneAt - writesDone,
      cpuPer1k,
      haproxyCpuPer1k,
      eventReloads: agent.events('reload', from).length,
      plans: agent.events('plan', from).length,
      pidSame,
      applied,
      warnings: problems(agent, 0),
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

function growth(results: SizeResult[]): string {
  const b = results[0];
  const x = (v: number, v0: number) => (Number.isFinite(v) && Number.isFinite(v0) && v0 > 0 ? `${(v / v0).toFixed(1)}x` : '–');
  return table(
    ['services', 'size', 'cold start', 'load services', 'HAProxy start', 'render', '`haproxy -c`', 'agent RSS', 'agent CPU / 1,000 events', 'lag after last write'],
    results.map((r) => [
      r.n.toLocaleString('en-US'),
      x(r.n, b.n),
      x(r.coldStartMs, b.coldStartMs),
      x(r.loadMs, b.loadMs),
      x(r.haproxyMs, b.haproxyMs),
      x(r.renderMs, b.renderMs),
      x(r.checkMs, b.checkMs),
      x(r.rssMb, b.rssMb),
      `${r.applied ? '' : '≥ '}${x(r.cpuPer1k, b.cpuPer1k)}`,
      `${r.applied ? '' : '≥ '}${x(r.lagMs, b.lagMs)}`,
    ]),
  );
}

async function run(): Promise<string> {
  const results: SizeResult[] = [];
  for (const n of SIZES) {
    const t = performance.now();
    results.push(await measureSize(n));
    if (process.env.BENCH_VERBOSE) console.error(`scale: ${n} services done in ${ms(performance.now() - t)} ms`, results[results.length - 1]);
  }
  const b = BURST > 0 ? await burst() : undefined;
  if (b && process.env.BENCH_VERBOSE) console.error('scale: burst', b);
  const sz = (n: number) => n.toLocaleString('en-US');
  const out = [
    `Machine: ${machine()}. Each service is a static list of ${SERVERS} servers (\`mode tcp\`, no health checks; the servers need not exist), one file per service; drift repair off.`,
    '',
  ];
  if (results.length) {
    out.push(
      "Cold start: from spawning `proxymgr run` until the last service's port accepts a TCP connection; the split comes from the agent's log timestamps (Node boot = spawn to the first log line; load = to the last `service_defined`; the `start` line's `ms` covers render, `haproxy -c`, write and HAProxy answering, of which `haproxy_ms` is HAProxy's own start).",
      '',
      table(
        ['services', 'servers', 'cold start (ms)', 'Node boot', 'load services', '`start` ms', 'of which HAProxy', 'ports serving'],
        results.map((r) => [sz(r.n), sz(r.n * SERVERS), ms(r.coldStartMs), ms(r.nodeBootMs), ms(r.loadMs), ms(r.startLogMs), ms(r.haproxyMs), `${r.serving}/${r.n}`]),
      ),
      '',
      'Render and check, in-process on the same services: `renderConfig` (after one warm-up render, median of 5, 3 at 5,000) and `checkConfig`, i.e. `haproxy -c` on the rendered file (median of 3, 1 at 5,000); memory of the running agent once it is quiet after start (peak = VmHWM over the whole run, events included); idle CPU over the next 2 s.',
      '',
      table(
        ['services', 'config (MB)', 'render (ms)', '`haproxy -c` (ms)', 'agent RSS (MB)', 'agent peak RSS (MB)', 'HAProxy RSS (MB)', 'agent idle CPU (ms / 2 s)'],
        results.map((r) => [sz(r.n), r.configMb.toFixed(1), ms(r.renderMs), ms(r.checkMs), mb(r.rssMb), mb(r.rssPeakMb), mb(r.haproxyRssMb), ms(r.idleCpuMs)]),
      ),
      '',
      `Server changes: ${sz(EVENTS)} service-file rewrites at ${RATE}/s, each adding, removing or re-weighting one server of a random service; done = \`show servers state\` of every touched service shows the final servers and weights. CPU is user + system time of the agent (and of HAProxy) from the first write until done, per 1,000 events; throughput = events / that time.`,
      '',
      table(
        ['services', 'agent CPU / 1,000 events (ms)', 'HAProxy CPU / 1,000 events (ms)', 'first write to done (ms)', 'lag after last write (ms)', 'throughput (events/s)', 'plans', 'reloads', 'HAProxy pid unchanged', 'all applied', 'agent warnings'],
        results.map((r) => [
          sz(r.n),
          `${r.applied ? '' : '≥ '}${ms(r.cpuPer1k)}`,
          `${r.applied ? '' : '≥ '}${ms(r.haproxyCpuPer1k)}`,
          ms(r.eventsWallMs),
          ms(r.lagMs),
          r.applied ? (r.events / (r.eventsWallMs / 1000)).toFixed(0) : `< ${(r.events / (r.eventsWallMs / 1000)).toFixed(1)}`,
          r.plans,
          r.eventReloads,
          r.pidSame ? 'yes' : 'NO',
          r.applied ? 'yes' : `NO (gave up ${STEP_LIMIT_MS / 1000} s after the last write)`,
          r.warnings,
        ]),
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
  const at1k = results.find((r) => r.n === 1000);
  if (at1k) {
    const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
    out.push(
      `Targets at 1,000 x 20: cold start < 2 s: ${ms(at1k.coldStartMs)} ms, ${verdict(at1k.coldStartMs < 2000)}; agent RSS < 150 MB: ${mb(at1k.rssMb)} MB after start, ${verdict(at1k.rssMb < 150)} (peak under the change load: ${mb(at1k.rssPeakMb)} MB).`,
      '',
    );
  }
  if (results.length > 1) {
    out.push(`Cost growth: each metric at each size divided by its value at ${sz(results[0].n)} services (the size column is the ratio of services).`, '', growth(results), '');
  }
  return out.join('\n');
}

export const scale: Bench = { title: 'Scale: services x 20 servers, and a ZooKeeper burst', run };

if (require.main === module) runAlone(scale);
