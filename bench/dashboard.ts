/**
 * Dashboard cost (issue 18): what the HTTP API and the dashboard stream cost the agent, for
 * two builds one after the other in the same run: "before" (bb5de9c, the main before the
 * dashboard's sampling and delta stream) and "after" (this working tree's dist/). Each
 * build runs an agent with N static services x 20 servers (unreachable 10.x addresses, no
 * health checks; the first 50 services point at 20 local HTTP backends for the traffic
 * step), the API on with a token and the default `stats_interval_ms`. Once it has started
 * and settled, from /proc/PID/stat and /proc/PID/status of the agent process:
 *   1. idle, no tab: agent CPU (% of one core), VmRSS at the end and VmHWM;
 *   2. one tab (a plain HTTP client on GET /events counting bytes): agent CPU minus the
 *      idle figure, bytes per minute after the first snapshot (its size reported apart);
 *   3. five tabs: extra CPU and bytes per minute, per tab;
 *   4. one tab that has expanded 3 services (POST events/STREAM/watch; "after" only);
 *   5. idle again once every tab has closed (does the live sampling stop?);
 *   6. light traffic (20 requests/s over 50 services' ports): without a tab, one tab, and
 *      ("after" only) one tab that has expanded 3 of the busy services.
 * CPU windows start once every tab has its first snapshot (plus a short warm-up), so they
 * are the steady cost; the snapshot's own cost is reported apart. The machine may be
 * shared: each window also counts the CPU of every other process (from /proc/stat), waits
 * for a quiet spell first and is measured again when others used more than a quarter of a
 * core; the report says how disturbed the windows kept were. About 25 minutes in full
 * (up to 35 on a busy machine), 8 in quick.
 *
 *   npm run --silent build && npx tsc -p tsconfig.bench.json && node .tmp/bench/bench/dashboard.js
 *   BENCH_QUICK=1                      200 services, 20 s windows
 *   BENCH_DASHBOARD_SERVICES           services (1,000; quick 200)
 *   BENCH_DASHBOARD_WINDOW_S           each measuring window (60; quick 20)
 *   BENCH_DASHBOARD_SETTLE_S           wait after the start line before measuring (40; quick 10)
 *   BENCH_DASHBOARD_TRAFFIC=0          skips step 6
 *   BENCH_DASHBOARD_BASELINE=CLI       the "before" build's dist/cli.js (default: a git worktree of
 *                                      bb5de9c in .tmp/bench-baseline-bb5de9c, created and built once)
 *   BENCH_DASHBOARD_BUILDS=after       run only some builds (before,after)
 *   BENCH_DASHBOARD_OTHER_MAX, BENCH_DASHBOARD_ATTEMPTS  interference limit (% of a core, 25) and
 *                                      windows per measurement (2; quick 1)
 *   BENCH_DASHBOARD_CPU_PROF=DIR       V8 CPU profiles of the agents into DIR/before, DIR/after (diagnosis; costs CPU)
 *   BENCH_VERBOSE=1                    progress on stderr
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { AgentFixture, CLI, ROOT } from '../test/support/agent';
import { startBackends, type Backends } from '../test/support/backends';
import { QUICK, cpuMs, machine, rssMb, runAlone, size, table, type Bench } from './lib/report';

const BASELINE_COMMIT = 'bb5de9c';
const SERVICES = size('BENCH_DASHBOARD_SERVICES', 1000, 200);
const SERVERS = 20;
const WINDOW_MS = size('BENCH_DASHBOARD_WINDOW_S', 60, 20) * 1000;
/** The first drift pass and the first safety-net rescan of the service files (each about 30 s in) are start-up work, not idle cost. */
const SETTLE_MS = size('BENCH_DASHBOARD_SETTLE_S', 40, 10) * 1000;
/** After the tabs have their snapshot (and a watch its first servers): the first live readings are not the steady state. */
const WARMUP_MS = 3000;
/** After tabs close, before the next phase. */
const QUIET_MS = 3000;
/** Other processes on the machine (it is shared): a window in which they used more than this % of a core is measured again. */
const OTHER_MAX_PCT = size('BENCH_DASHBOARD_OTHER_MAX', 25, 25);
const ATTEMPTS = size('BENCH_DASHBOARD_ATTEMPTS', 2, 1);
/** Before a window: wait at most this long for a quiet spell, probed this often. */
const GATE_MS = 20_000;
const QUIET_PROBE_MS = 2000;
const TRAFFIC = process.env.BENCH_DASHBOARD_TRAFFIC !== '0';
const TRAFFIC_SERVICES = Math.min(50, SERVICES);
const TRAFFIC_RATE = 20;
const TABS = 5;
const WATCHED = 3;
const TOKEN = 'bench-dashboard-token-0123456789';
/** The issue's goals for the after build. */
const GOAL = { idleCpuPct: 3, idleRssMb: 250, tabCpuPct: 1, tabMbPerMin: 2 };

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));
const pad = (i: number) => `svc${String(i).padStart(5, '0')}`;
const verbose = (...args: unknown[]) => {
  if (process.env.BENCH_VERBOSE) console.error(`dashboard [${new Date().toISOString().slice(11, 19)}]:`, ...args);
};

/** CPU time every process on the machine has used (busy jiffies of /proc/stat), in ms. */
function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  return ((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 1000) / 100;
}

/** CPU time of this process (the bench: its tabs and traffic), in ms. */
function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** VmHWM (peak resident set) in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** A base port such that base..base+n-1 are all free on 127.0.0.1, below the ephemeral range. */
async function freeRange(n: number): Promise<number> {
  for (const first of [20000, 10000, 1024]) {
    let base = first;
    for (let p = base; base + n <= 32768; p++) {
      if (p === base + n) return base;
      if (!(await canBind(p))) base = p + 1;
    }
  }
  throw new Error(`no free range of ${n} ports below 32768`);
}

// ---------------------------------------------------------------------------------------
// The "before" build

function git(args: string[], cwd = ROOT): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * The baseline's dist/cli.js: BENCH_DASHBOARD_BASELINE, or a detached worktree of
 * BASELINE_COMMIT under .tmp/ with main's node_modules linked in, built once (a stamp in
 * its dist/ says from which commit).
 */
function baselineCli(): string {
  const given = process.env.BENCH_DASHBOARD_BASELINE;
  if (given) {
    const cli = resolve(given);
    if (!existsSync(cli)) throw new Error(`BENCH_DASHBOARD_BASELINE=${given}: no such file`);
    return cli;
  }
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', `${BASELINE_COMMIT}^{commit}`]);
  } catch {
    throw new Error(`commit ${BASELINE_COMMIT} is not in this clone (a shallow clone? \`git fetch --unshallow\`), or set BENCH_DASHBOARD_BASELINE=/path/to/cli.js`);
  }
  const dir = join(ROOT, '.tmp', `bench-baseline-${BASELINE_COMMIT}`);
  const cli = join(dir, 'dist', 'cli.js');
  const stamp = join(dir, 'dist', '.bench-built-from');
  let head = '';
  try {
    head = existsSync(join(dir, '.git')) ? git(['rev-parse', 'HEAD'], dir) : '';
  } catch {
    head = '';
  }
  if (head !== commit) {
    // Not a usable worktree (absent, half-made, or registered for a clone that is gone): make it afresh.
    verbose(`creating the worktree ${dir} at ${commit.slice(0, 12)}`);
    rmSync(dir, { recursive: true, force: true });
    git(['worktree', 'prune']);
    mkdirSync(join(ROOT, '.tmp'), { recursive: true });
    git(['worktree', 'add', '--detach', '--force', dir, commit]);
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const built = existsSync(cli) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === commit;
  if (!built) {
    verbose(`building ${BASELINE_COMMIT} in ${dir}`);
    // What `npx tsc -p tsconfig.build.json` runs there; its output goes to stderr, the markdown to stdout.
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: ['ignore', 2, 2] });
    writeFileSync(stamp, `${commit}\n`);
  }
  return cli;
}

// ---------------------------------------------------------------------------------------
// A tab: GET /events, bytes counted

interface EventBytes {
  [event: string]: number;
}

/**
 * A plain HTTP client on /events. Until the first `snapshot` (after) or `state` (before)
 * has arrived it splits frames, to know the initial size and the `hello` (the stream id);
 * then it only counts bytes, unless `detail`, which also adds up bytes per event name.
 */
class Tab {
  /** Body bytes since connecting. */
  total = 0;
  /** Body bytes up to the end of the first snapshot. */
  initialBytes = NaN;
  initialMs = NaN;
  stream?: string;
  readonly perEvent: EventBytes = {};
  private carry = '';
  private initialDone = false;
  /** The frame being counted: its bytes so far, its first characters, whether its last byte was a newline. */
  private cur = 0;
  private head = '';
  private prevNewline = false;
  private readonly t0 = performance.now();
  private req?: http.ClientRequest;
  private readonly ready: Promise<void>;
  private failed?: Error;

  constructor(
    port: number,
    private readonly detail = false,
  ) {
    this.ready = new Promise<void>((done, fail) => {
      this.req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          fail(new Error(`GET /events: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          this.total += chunk.length;
          if (!this.initialDone) this.initial(chunk.toString('latin1'), done);
          else if (this.detail) this.count(chunk);
        });
        res.on('error', (err) => (this.failed = err));
        res.on('close', () => (this.failed ??= new Error('the /events stream closed')));
      });
      this.req.on('error', (err) => {
        this.failed = err;
        fail(err);
      });
    });
  }

  /** Resolves once the first snapshot has arrived. */
  async snapshot(timeoutMs = 60_000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.ready, new Promise((_, fail) => (t = setTimeout(() => fail(new Error('no snapshot on /events in time')), timeoutMs)))]);
    clearTimeout(t);
  }

  check(): void {
    if (this.failed) throw new Error(`a tab lost its stream: ${this.failed.message}`);
  }

  close(): void {
    this.failed ??= new Error('closed');
    this.req?.destroy();
  }

  /** Until the first snapshot: whole frames (a few, once per tab), for the hello's stream id and the initial size. */
  private initial(text: string, done: () => void): void {
    let from = Math.max(0, this.carry.length - 1);
    this.carry += text;
    let start = 0;
    for (;;) {
      const end = this.carry.indexOf('\n\n', from);
      if (end < 0) break;
      const frame = this.carry.slice(start, end + 2);
      start = from = end + 2;
      const name = eventName(frame);
      if (name === 'hello') {
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        try {
          this.stream = (JSON.parse(data ?? '{}') as { stream?: string }).stream;
        } catch {
          // no stream id (before)
        }
      }
      if (name === 'snapshot' || name === 'state') {
        const rest = this.carry.slice(start);
        this.carry = '';
        this.initialDone = true;
        // Bytes of this chunk after the snapshot are stream bytes (latin1: one char per byte).
        this.initialBytes = this.total - rest.length;
        this.initialMs = performance.now() - this.t0;
        if (this.detail && rest) this.count(Buffer.from(rest, 'latin1'));
        done();
        return;
      }
    }
    this.carry = this.carry.slice(start);
  }

  /** After it (detail only): bytes per event name, scanning for frame ends without keeping frames. */
  private count(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      let end = -1;
      if (pos === 0 && this.prevNewline && chunk[0] === 10) end = 1;
      else {
        const i = chunk.indexOf('\n\n', pos);
        if (i >= 0) end = i + 2;
      }
      const stop = end < 0 ? chunk.length : end;
      if (this.head.length < 48) this.head += chunk.toString('latin1', pos, Math.min(stop, pos + 48 - this.head.length));
      this.cur += stop - pos;
      if (end < 0) break;
      const name = eventName(this.head);
      this.perEvent[name] = (this.perEvent[name] ?? 0) + this.cur;
      this.cur = 0;
      this.head = '';
      pos = end;
    }
    this.prevNewline = this.cur > 0 && chunk[chunk.length - 1] === 10;
  }

  /** Bytes on the stream after the first snapshot. */
  get streamBytes(): number {
    return Number.isFinite(this.initialBytes) ? this.total - this.initialBytes : 0;
  }
}

/** An SSE frame's event name, from its first characters. */
function eventName(head: string): string {
  if (head.startsWith('event: ')) {
    const nl = head.indexOf('\n');
    return nl > 0 ? head.slice(7, nl) : head.slice(7);
  }
  return head.startsWith(':') ? 'comment' : head.startsWith('retry:') ? 'retry' : 'other';
}

function post(port: number, path: string, body: unknown): Promise<number> {
  return new Promise((done, fail) => {
    const text = JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end(text);
  });
}

// ---------------------------------------------------------------------------------------
// Traffic: a paced trickle of requests over some services' ports

function startTraffic(base: number, services: number, perSecond: number) {
  const counts = { ok: 0, failed: 0 };
  let k = 0;
  const timer = setInterval(() => {
    const port = base + (k++ % services);
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? counts.ok++ : counts.failed++));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => counts.failed++);
  }, 1000 / perSecond);
  return {
    counts,
    stop: async () => {
      clearInterval(timer);
      await sleep(200);
      return counts;
    },
  };
}

// ---------------------------------------------------------------------------------------
// One build

interface Window {
  /** Agent CPU, % of one core. */
  cpuPct: number;
  /** HAProxy CPU (every process of this agent), % of one core. */
  haproxyCpuPct: number;
  /** Everything else on the machine (not the agent, its HAProxy or this bench): interference, % of one core. */
  otherCpuPct: number;
  /** Windows measured to get one with little interference. */
  attempts: number;
  ms: number;
}

interface TabPhase extends Window {
  tabs: number;
  /** Body bytes per minute per tab, after the first snapshot. */
  bytesPerMinPerTab: number;
  /** The first tab's first snapshot: bytes (hello included), ms from connect, agent CPU ms meanwhile. */
  initialBytes: number;
  initialMs: number;
  initialCpuMs: number;
  /** Bytes between the watch call and the window (the watched services' first servers). */
  watchBytes?: number;
  perEvent: EventBytes;
}

interface BuildResult {
  name: string;
  cli: string;
  /** What the build was when its agent started: HEAD, uncommitted src changes, dist/cli.js's time. */
  version: string;
  startMs: number;
  idle: Window;
  idleRssMb: number;
  idlePeakMb: number;
  oneTab: TabPhase;
  fiveTabs: TabPhase;
  watch?: TabPhase;
  idleAgain: Window;
  traffic?: { idle: Window; tab: TabPhase; watch?: TabPhase; ok: number; failed: number };
  endRssMb: number;
  endPeakMb: number;
}

async function runBuild(name: string, cli: string, hasWatch: boolean): Promise<BuildResult> {
  const base = await freeRange(SERVICES);
  const backends: Backends | undefined = TRAFFIC ? await startBackends(SERVERS) : undefined;
  const services: Record<string, unknown> = {};
  for (let i = 0; i < SERVICES; i++) {
    const servers =
      backends && i < TRAFFIC_SERVICES
        ? backends.ports.map((p) => `127.0.0.1:${p}`)
        : Array.from({ length: SERVERS }, (_, j) => `10.${(i >> 8) & 255}.${i & 255}.${j + 1}:8080`);
    services[pad(i)] = { type: 'static', port: base + i, servers };
  }
  const agent = new AgentFixture({
    cli: launcher(name, cli),
    services,
    logLevel: 'info',
    extraYaml: ['api:', '  listen: 127.0.0.1:0', `  token: ${TOKEN}`].join('\n'),
  });
  try {
    const version = versionOf(cli);
    const t0 = performance.now();
    await agent.start();
    const startMs = performance.now() - t0;
    if (!agent.events('start').length) throw new Error(`${name}: the agent did not start: ${JSON.stringify(agent.logs.slice(-5))}`);
    const apiLine = await agent.waitLog((l) => l.event === 'api_listening', 10_000);
    const apiPort = Number(apiLine.port);
    const pid = agent.proc!.pid!;
    verbose(`${name}: started in ${startMs.toFixed(0)} ms (pid ${pid}, API on ${apiPort}); settling ${SETTLE_MS / 1000} s`);
    await sleep(SETTLE_MS);

    const haproxyCpu = () => {
      let sum = 0;
      for (const p of agent.haproxyPids()) {
        try {
          sum += cpuMs(p);
        } catch {
          // exited while we looked
        }
      }
      return sum;
    };
    /** One window: the agent's, its HAProxy's and everything else's CPU; `sample` (tab bytes) read at both ends. */
    const window = async <T>(ms: number, sample: () => T): Promise<Window & { first: T; last: T }> => {
      const a0 = cpuMs(pid);
      const h0 = haproxyCpu();
      const m0 = machineBusyMs();
      const o0 = ownCpuMs();
      const first = sample();
      const w0 = performance.now();
      await sleep(ms);
      const wall = performance.now() - w0;
      const last = sample();
      const agentMs = cpuMs(pid) - a0;
      const haproxyMs = haproxyCpu() - h0;
      const otherMs = machineBusyMs() - m0 - agentMs - haproxyMs - (ownCpuMs() - o0);
      return { cpuPct: (agentMs / wall) * 100, haproxyCpuPct: (haproxyMs / wall) * 100, otherCpuPct: Math.max(0, (otherMs / wall) * 100), ms: wall, attempts: 1, first, last };
    };
    /**
     * A window with little else running on the machine: waits (up to GATE_MS) for a quiet
     * spell, measures, and measures again (up to ATTEMPTS) when other processes used more
     * than OTHER_MAX_PCT of a core meanwhile; the least disturbed window counts.
     */
    const measure = async <T = undefined>(ms: number, sample: () => T = () => undefined as T): Promise<Window & { first: T; last: T }> => {
      let best: (Window & { first: T; last: T }) | undefined;
      let attempts = 0;
      for (let attempt = 1; attempt <= Math.max(1, ATTEMPTS); attempt++) {
        attempts = attempt;
        const gate = performance.now();
        while (performance.now() - gate < GATE_MS && (await window(QUIET_PROBE_MS, () => undefined)).otherCpuPct > OTHER_MAX_PCT);
        const w = await window(ms, sample);
        if (!best || w.otherCpuPct < best.otherCpuPct) best = w;
        if (w.otherCpuPct <= OTHER_MAX_PCT) break;
        verbose(`${name}: other processes used ${w.otherCpuPct.toFixed(1)} % of a core during a window (limit ${OTHER_MAX_PCT}); ${attempt < ATTEMPTS ? 'again' : 'keeping the least disturbed'}`);
      }
      return { ...best!, attempts };
    };
    /** `watch`: the first tab expands these services. */
    const tabPhase = async (label: string, n: number, watch?: string[]): Promise<TabPhase> => {
      const c0 = cpuMs(pid);
      const tabs = [new Tab(apiPort, true)];
      await tabs[0].snapshot();
      const initialCpuMs = cpuMs(pid) - c0;
      for (let i = 1; i < n; i++) tabs.push(new Tab(apiPort));
      await Promise.all(tabs.map((t) => t.snapshot()));
      let watchBytes: number | undefined;
      if (watch) {
        const b0 = tabs[0].streamBytes;
        const status = await post(apiPort, `/events/${encodeURIComponent(tabs[0].stream ?? 'none')}/watch`, { services: watch });
        if (status !== 204) throw new Error(`${name}: POST events/${tabs[0].stream}/watch answered ${status}`);
        await sleep(WARMUP_MS);
        watchBytes = tabs[0].streamBytes - b0;
      } else await sleep(WARMUP_MS);
      const w = await measure(WINDOW_MS, () => {
        for (const t of tabs) t.check();
        const perEvent = { ...tabs[0].perEvent };
        return { bytes: tabs.map((t) => t.streamBytes), perEvent };
      });
      const bytes = w.last.bytes.map((b, i) => b - w.first.bytes[i]);
      const perEvent: EventBytes = {};
      for (const [e, b] of Object.entries(w.last.perEvent)) if (b - (w.first.perEvent[e] ?? 0) > 0) perEvent[e] = b - (w.first.perEvent[e] ?? 0);
      for (const t of tabs) t.close();
      const r: TabPhase = {
        cpuPct: w.cpuPct,
        haproxyCpuPct: w.haproxyCpuPct,
        otherCpuPct: w.otherCpuPct,
        ms: w.ms,
        attempts: w.attempts,
        tabs: n,
        bytesPerMinPerTab: (bytes.reduce((s, b) => s + b, 0) / n / w.ms) * 60_000,
        initialBytes: tabs[0].initialBytes,
        initialMs: tabs[0].initialMs,
        initialCpuMs,
        watchBytes,
        perEvent,
      };
      verbose(`${name} ${label}: agent ${r.cpuPct.toFixed(2)} %, HAProxy ${r.haproxyCpuPct.toFixed(2)} %, others ${r.otherCpuPct.toFixed(1)} %, ${(r.bytesPerMinPerTab / 1e6).toFixed(3)} MB/min per tab, snapshot ${r.initialBytes} B in ${r.initialMs.toFixed(0)} ms, events ${JSON.stringify(perEvent)}`);
      await sleep(QUIET_MS);
      return r;
    };

    const idle = await measure(WINDOW_MS);
    const idleRssMb = rssMb(pid);
    const idlePeakMb = peakRssMb(pid);
    verbose(`${name} idle: agent ${idle.cpuPct.toFixed(2)} %, HAProxy ${idle.haproxyCpuPct.toFixed(2)} %, others ${idle.otherCpuPct.toFixed(1)} %, RSS ${idleRssMb.toFixed(0)} MB, peak ${idlePeakMb.toFixed(0)} MB`);
    const oneTab = await tabPhase('one tab', 1);
    const fiveTabs = await tabPhase('five tabs', TABS);
    // Idle services (past the ones with traffic): what a watch costs when nothing changes.
    const idleNames = Array.from({ length: WATCHED }, (_, i) => pad(Math.min(SERVICES - 1 - i, (TRAFFIC ? TRAFFIC_SERVICES : 0) + i)));
    const watch = hasWatch ? await tabPhase(`one tab, ${WATCHED} expanded`, 1, idleNames) : undefined;
    const idleAgain = await measure(Math.max(10_000, WINDOW_MS / 3));
    verbose(`${name} idle again: agent ${idleAgain.cpuPct.toFixed(2)} %`);
    let traffic: BuildResult['traffic'];
    if (backends) {
      const load = startTraffic(base, TRAFFIC_SERVICES, TRAFFIC_RATE);
      await sleep(WARMUP_MS);
      const tIdle = await measure(WINDOW_MS);
      verbose(`${name} traffic, no tab: agent ${tIdle.cpuPct.toFixed(2)} %`);
      const tTab = await tabPhase('traffic, one tab', 1);
      const busyNames = Array.from({ length: WATCHED }, (_, i) => pad(i));
      const tWatch = hasWatch ? await tabPhase(`traffic, one tab, ${WATCHED} busy services expanded`, 1, busyNames) : undefined;
      const counts = await load.stop();
      traffic = { idle: tIdle, tab: tTab, watch: tWatch, ...counts };
      verbose(`${name} traffic: ${counts.ok} ok, ${counts.failed} failed`);
    }
    return { name, cli, version, startMs, idle, idleRssMb, idlePeakMb, oneTab, fiveTabs, watch, idleAgain, traffic, endRssMb: rssMb(pid), endPeakMb: peakRssMb(pid) };
  } catch (err) {
    const p = agent.proc;
    if (p && (p.exitCode !== null || p.signalCode !== null)) {
      await sleep(200);
      const stop = agent.logs.findIndex((l) => l.event === 'shutdown');
      const last = (stop >= 0 ? agent.logs.slice(Math.max(0, stop - 3), stop + 2) : agent.logs.slice(-6)).map((l) => JSON.stringify(l));
      throw new Error(`${name}: the agent exited (code ${p.exitCode}, signal ${p.signalCode}) during the run: ${(err as Error).message}\nstderr:\n${agent.stderr.slice(-15).join('\n')}\nlast log lines:\n${last.join('\n')}`);
    }
    throw err;
  } finally {
    await agent.cleanup();
    await backends?.close();
  }
}

// ---------------------------------------------------------------------------------------
// Report

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(2));
const mbs = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : bytes >= 1e6 ? (bytes / 1e6).toFixed(1) : (bytes / 1e6).toFixed(3));
const kb = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : (bytes / 1e3).toFixed(1));

/** after / before, two significant digits; nothing when either is not a positive figure (an extra CPU within the noise). */
function afterOverBefore(before: number | undefined, after: number | undefined): string {
  if (before === undefined || after === undefined || !Number.isFinite(before) || !Number.isFinite(after) || before <= 0 || after < 0) return '–';
  const r = after / before;
  return r === 0 ? '0x' : r < 0.001 ? '< 0.001x' : `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toPrecision(2)}x`;
}

const extra = (phase: TabPhase | undefined, idle: Window) => (phase ? (phase.cpuPct - idle.cpuPct) / phase.tabs : undefined);

function report(results: BuildResult[], started: Date): string {
  const before = results.find((r) => r.name === 'before');
  const after = results.find((r) => r.name === 'after');
  type Row = [string, (r: BuildResult) => number | undefined, (x: number | undefined) => string, string, ((x: number) => boolean)?];
  const rows: Row[] = [
    ['idle, no tab: agent CPU (% of one core)', (r) => r.idle.cpuPct, f2, `<= ${GOAL.idleCpuPct}`, (x) => x <= GOAL.idleCpuPct],
    ['idle: agent RSS at the end (MB)', (r) => r.idleRssMb, f1, `<= ${GOAL.idleRssMb}`, (x) => x <= GOAL.idleRssMb],
    ['idle: agent peak RSS so far, VmHWM (MB)', (r) => r.idlePeakMb, f1, ''],
    ['idle: HAProxy CPU (% of one core)', (r) => r.idle.haproxyCpuPct, f2, ''],
    ['one tab: extra agent CPU (% of one core)', (r) => extra(r.oneTab, r.idle), f2, `<= ${GOAL.tabCpuPct}`, (x) => x <= GOAL.tabCpuPct],
    ['one tab: /events MB per minute (after the snapshot)', (r) => r.oneTab.bytesPerMinPerTab, mbs, `<= ${GOAL.tabMbPerMin}`, (x) => x / 1e6 <= GOAL.tabMbPerMin],
    ['one tab: first snapshot (kB, hello included)', (r) => r.oneTab.initialBytes, kb, ''],
    ['one tab: first snapshot, connect to received (ms)', (r) => r.oneTab.initialMs, f1, ''],
    ['one tab: first snapshot, agent CPU (ms)', (r) => r.oneTab.initialCpuMs, f1, ''],
    ['one tab: HAProxy CPU (% of one core)', (r) => r.oneTab.haproxyCpuPct, f2, ''],
    [`${TABS} tabs: extra agent CPU per tab (% of one core)`, (r) => extra(r.fiveTabs, r.idle), f2, ''],
    [`${TABS} tabs: /events MB per minute per tab`, (r) => r.fiveTabs.bytesPerMinPerTab, mbs, ''],
    [`one tab, ${WATCHED} services expanded: extra agent CPU (% of one core)`, (r) => extra(r.watch, r.idle), f2, ''],
    [`one tab, ${WATCHED} services expanded: /events MB per minute`, (r) => r.watch?.bytesPerMinPerTab, mbs, ''],
    [`one tab, ${WATCHED} services expanded: first servers after the watch (kB)`, (r) => r.watch?.watchBytes, kb, ''],
    ['idle again, every tab closed: agent CPU (% of one core)', (r) => r.idleAgain.cpuPct, f2, ''],
  ];
  if (TRAFFIC) {
    rows.push(
      [`${TRAFFIC_RATE} req/s over ${TRAFFIC_SERVICES} services, no tab: agent CPU (% of one core)`, (r) => r.traffic?.idle.cpuPct, f2, ''],
      [`${TRAFFIC_RATE} req/s, one tab: extra agent CPU (% of one core)`, (r) => (r.traffic ? extra(r.traffic.tab, r.traffic.idle) : undefined), f2, ''],
      [`${TRAFFIC_RATE} req/s, one tab: /events MB per minute`, (r) => r.traffic?.tab.bytesPerMinPerTab, mbs, ''],
      [`${TRAFFIC_RATE} req/s, one tab, ${WATCHED} busy services expanded: extra agent CPU (% of one core)`, (r) => (r.traffic ? extra(r.traffic.watch, r.traffic.idle) : undefined), f2, ''],
      [`${TRAFFIC_RATE} req/s, one tab, ${WATCHED} busy services expanded: /events MB per minute`, (r) => r.traffic?.watch?.bytesPerMinPerTab, mbs, ''],
    );
  }
  rows.push(
    ['end of run: agent RSS (MB)', (r) => r.endRssMb, f1, ''],
    ['end of run: agent peak RSS, VmHWM (MB)', (r) => r.endPeakMb, f1, ''],
  );
  const body = rows.map(([label, get, fmt, goal, ok]) => {
    const b = before ? get(before) : undefined;
    const a = after ? get(after) : undefined;
    const verdict = ok && a !== undefined && Number.isFinite(a) ? (ok(a) ? 'met' : '**missed**') : '';
    return [label, fmt(b), fmt(a), afterOverBefore(b, a), goal, verdict];
  });
  const head = head0(results, started);
  const details = results.map((r) => {
    const ev = (p: TabPhase | undefined) =>
      p && Object.keys(p.perEvent).length
        ? Object.entries(p.perEvent)
            .sort((x, y) => y[1] - x[1])
            .map(([e, b]) => `${e} ${mbs((b / p.ms) * 60_000)}`)
            .join(', ')
        : 'nothing';
    const t = r.traffic ? ` Traffic: ${r.traffic.ok} requests answered 200, ${r.traffic.failed} not.` : '';
    const windows = [r.idle, r.oneTab, r.fiveTabs, r.watch, r.idleAgain, r.traffic?.idle, r.traffic?.tab, r.traffic?.watch].filter((w): w is Window => w !== undefined);
    const other = Math.max(...windows.map((w) => w.otherCpuPct));
    const again = windows.reduce((n, w) => n + w.attempts - 1, 0);
    const noise = ` Other processes on the machine during the windows kept: up to ${f1(other)} % of a core${other > OTHER_MAX_PCT ? ' (**interference: these figures are suspect**)' : ''}${again ? `; ${again} window(s) measured again for interference` : ''}.`;
    return `- ${r.name}: started in ${(r.startMs / 1000).toFixed(1)} s. MB per minute by event, first tab: one tab ${ev(r.oneTab)}; ${TABS} tabs ${ev(r.fiveTabs)}${r.watch ? `; ${WATCHED} expanded ${ev(r.watch)}` : ''}${r.traffic ? `; traffic ${ev(r.traffic.tab)}` : ''}${r.traffic?.watch ? `; traffic, ${WATCHED} busy expanded ${ev(r.traffic.watch)}` : ''}.${t}${noise}`;
  });
  return [head, '', table(['', 'before', 'after', 'after / before', 'goal (after)', 'verdict'], body), '', ...details].join('\n');
}

/** The tree a dist/ was built from, as far as can be told at its agent's start. */
function versionOf(cli: string): string {
  let v = '?';
  try {
    const dir = resolve(cli, '..', '..');
    v = git(['log', '-1', '--format=%h'], dir);
    if (git(['status', '--porcelain', '--untracked-files=no', '--', 'src'], dir)) v += ' with uncommitted src changes';
  } catch {
    // not a git tree
  }
  return `${v}, dist/cli.js of ${statSync(cli).mtime.toISOString().slice(11, 19)} UTC`;
}

function head0(results: BuildResult[], started: Date): string {
  const headline = results.find((r) => r.name === 'after')?.version ?? 'not run';
  return [
    `${QUICK ? 'Quick' : 'Full'} run on ${started.toISOString().slice(0, 10)}. Machine: ${machine()}.`,
    '',
    `${SERVICES.toLocaleString('en-US')} static services x ${SERVERS} servers, no health checks (${TRAFFIC ? `the first ${TRAFFIC_SERVICES} point at ${SERVERS} local HTTP backends, the rest at unreachable 10.x addresses` : 'unreachable 10.x addresses'}), \`mode http\`, drift repair at its default; the API on with a token and the default \`stats_interval_ms\` (2 s). ` +
      `"before" is ${BASELINE_COMMIT} (${results.find((r) => r.name === 'before')?.cli.replace(`${ROOT}/`, '') ?? 'not run'}), "after" is this tree's dist/ (${headline}); one agent at a time, the same steps for each. ` +
      `Each agent settles ${SETTLE_MS / 1000} s after its start line; every window is ${WINDOW_MS / 1000} s of agent CPU from /proc/PID/stat (user + system), starting once every tab has its first snapshot plus ${WARMUP_MS / 1000} s. ` +
      `Extra CPU per tab = (CPU with the tabs - idle CPU) / tabs, so it carries the noise of both windows. A tab is a plain HTTP client on GET /events counting body bytes; MB = 10^6 bytes, RSS MB = 2^20 bytes. ` +
      `Expanding is POST events/STREAM/watch after the hello (before has no watch: n/a); the ${WATCHED} services expanded without traffic get none${TRAFFIC ? `, the ${WATCHED} busy ones are among the ${TRAFFIC_SERVICES} with traffic (about ${((TRAFFIC_RATE / TRAFFIC_SERVICES) * 60).toFixed(0)} requests a minute each)` : ''}.`,
  ].join('\n');
}

/**
 * The CLI through a file named after the build (node runs the real file, so web/ and
 * templates/ are found beside it): the two agents are told apart in ps and top, and a
 * broad `pkill -f 'cli.js run -c '` elsewhere on a shared machine does not stop a run.
 * With BENCH_DASHBOARD_CPU_PROF it is a small script that starts V8's profiler in the
 * agent and writes the profile when the agent exits (NODE_OPTIONS may not carry --cpu-prof).
 */
function launcher(name: string, cli: string): string {
  const dir = join(ROOT, '.tmp', 'bench-dashboard');
  mkdirSync(dir, { recursive: true });
  const link = join(dir, `agent-${name}.js`);
  rmSync(link, { force: true });
  const profDir = process.env.BENCH_DASHBOARD_CPU_PROF;
  if (!profDir) {
    symlinkSync(cli, link);
    return link;
  }
  const out = resolve(profDir, name);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    link,
    [
      "const inspector = require('node:inspector');",
      "const fs = require('node:fs');",
      'const session = new inspector.Session();',
      'session.connect();',
      "session.post('Profiler.enable');",
      "session.post('Profiler.start');",
      "process.on('exit', () => session.post('Profiler.stop', (err, r) => {",
      `  if (!err) fs.writeFileSync(${JSON.stringify(out)} + '/agent-' + process.pid + '.cpuprofile', JSON.stringify(r.profile));`,
      '}));',
      `require(${JSON.stringify(cli)});`,
      '',
    ].join('\n'),
  );
  return link;
}

async function run(): Promise<string> {
  const started = new Date();
  const builds = (process.env.BENCH_DASHBOARD_BUILDS ?? 'before,after').split(',').map((s) => s.trim());
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: npm run --silent build first`);
  const results: BuildResult[] = [];
  // One agent at a time, never both: the machines have 2 cores.
  if (builds.includes('before')) results.push(await runBuild('before', baselineCli(), false));
  if (builds.includes('after')) results.push(await runBuild('after', CLI, true));
  return report(results, started);
}

export const dashboard: Bench = { title: 'Dashboard cost (issue 18): the API and /events stream, before and after (`bench/dashboard.ts`)', run };

if (require.main === module) runAlone(dashboard);
