import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import type { Logger } from '../log';
import { showInfo } from './runtime-client';

export interface SupervisorOptions {
  binary: string;
  configPath: string;
  socketPath: string;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  log: Logger;
  /** Delay before the n-th consecutive restart after a crash: 0, then doubling from `restartBaseMs` up to `restartMaxMs`. */
  restartBaseMs?: number;
  restartMaxMs?: number;
}

export type LaunchResult =
  | { ok: true; pid: number; oldPid?: number; ms: number }
  | { ok: false; error: string; output: string[]; ms: number };

interface Generation {
  pid: number;
  child?: ChildProcess;
  startedAt: number;
  /** Last lines HAProxy printed, for failure reports. */
  output: string[];
  /** Not our child: a process found on the admin socket at start (left by an earlier agent). */
  adopted: boolean;
  /** Being replaced: the new process tells it to finish (-sf), so its exit is expected. */
  retiring?: boolean;
  exited: Promise<void>;
}

const OUTPUT_LINES = 50;
// HAProxy prints these as warnings on every soft stop (each reload); they are routine.
const ROUTINE = /Proxy \S+ stopped \(cumulated|Stopping (proxy|frontend|backend) |Exiting Master process/;
// Echoes of the agent's own runtime commands (add, state, del): the agent's plan line already
// says it; at 10,000 adds they would be 20,000 lines and a full stdout pipe blocks the agent.
const ECHO = /CLI : |\(leaving forced (maintenance|drain)\)|is going DOWN for maintenance\./;
const STABLE_MS = 10_000;
const HANDOFF_FAILED = /Failed to get the sockets from the old process|Failed to connect to the old process/;

/**
 * Runs HAProxy as child processes, one per configuration generation.
 *
 * A reload starts a new process with `-x <admin socket> -sf <old pid>`: it takes
 * the listening sockets over from the old process (no connection is refused in
 * between; a plain `-sf` drops some, see shared/notes/haproxy-2.6.md §2.3), then
 * tells the old one to finish its connections and exit. Every pid is tracked until
 * it exits, and all of them are stopped with the agent.
 *
 * Events: 'crash' (pid, code, signal), 'restarted' (LaunchResult), 'exit' (pid).
 */
export class Supervisor extends EventEmitter {
  private current?: Generation;
  private readonly generations = new Map<number, Generation>();
  private chain: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private crashes = 0;
  private restartTimer?: NodeJS.Timeout;
  private readonly killAll = () => {
    for (const pid of this.generations.keys()) signal(pid, 'SIGKILL');
  };
  readonly stats = { starts: 0, reloads: 0, failedReloads: 0, crashes: 0 };

  constructor(private opts: SupervisorOptions) {
    super();
    // Last resort: never leave HAProxy processes behind if the agent dies of an exception.
    process.on('exit', this.killAll);
  }

  /** The pid serving now, if any. */
  /** New binary, config path or timeouts (SIGHUP): they apply from the next start, reload or stop. */
  configure(opts: Partial<Omit<SupervisorOptions, 'socketPath' | 'log'>>): void {
    this.opts = { ...this.opts, ...opts };
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  /** Starts HAProxy, taking over from a process already on the admin socket if there is one. */
  start(): Promise<LaunchResult> {
    return this.serialise(async () => {
      if (!this.current) await this.adoptExisting();
      return this.launch();
    });
  }

  /** Replaces the running process with one reading the current config file. Starts one if none runs. */
  reload(): Promise<LaunchResult> {
    return this.serialise(() => this.launch());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.chain.catch(() => undefined);
    const gens = [...this.generations.values()];
    // SIGUSR1 is HAProxy's soft stop: close listeners, let open connections finish.
    for (const g of gens) signal(g.pid, 'SIGUSR1');
    const all = Promise.all(gens.map((g) => g.exited));
    if (!(await within(all, this.opts.stopTimeoutMs))) {
      for (const g of this.generations.values()) signal(g.pid, 'SIGKILL');
      await within(all, 2000);
    }
    this.current = undefined;
    process.off('exit', this.killAll);
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new Error('supervisor is stopping'));
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async adoptExisting(): Promise<void> {
    const pid = await showInfo(this.opts.socketPath, 500)
      .then((info) => Number(info.Pid))
      .catch(() => NaN);
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
    const gen: Generation = { pid, startedAt: Date.now(), output: [], adopted: true, exited: pollExit(pid) };
    this.track(gen);
    this.current = gen;
    this.opts.log.warn({ event: 'haproxy_adopt', pid }, 'found HAProxy running on the admin socket; taking over its listeners');
  }

  private async launch(): Promise<LaunchResult> {
    const res = await this.launchOnce(true);
    if (res.ok || !this.current || !res.output.some((l) => HANDOFF_FAILED.test(l))) return res;
    // The old process's admin socket is unusable (deleted, or not ours): a plain -sf reload
    // may refuse a few connections, but staying stuck on an old config forever is worse.
    this.opts.log.warn({ event: 'haproxy_handoff_failed', pid: this.current.pid, output: res.output.slice(-3) }, 'socket handoff failed; reloading without it');
    return this.launchOnce(false);
  }

  private async launchOnce(handoff: boolean): Promise<LaunchResult> {
    const t0 = performance.now();
    const old = this.current;
    const args = ['-db', '-f', this.opts.configPath];
    if (old && !handoff) {
      args.push('-sf', String(old.pid));
      old.retiring = true;
    } else if (old) {
      args.push('-x', this.opts.socketPath, '-sf', String(old.pid));
      // The old process may exit before we see the new one ready; that is the plan, not a crash.
      old.retiring = true;
    }
    const child = spawn(this.opts.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    if (child.pid === undefined) {
      const err = await spawnError;
      this.keepOld(old);
      return { ok: false, error: `cannot start ${this.opts.binary}: ${err.message}`, output: [], ms: performance.now() - t0 };
    }
    const gen: Generation = {
      pid: child.pid,
      child,
      startedAt: Date.now(),
      output: [],
      adopted: false,
      // 'close' rather than 'exit': by then every line HAProxy printed has been read.
      exited: new Promise((resolve) => child.once('close', () => resolve())),
    };
    this.forwardOutput(gen);
    this.track(gen);
    this.stats.starts++;

    const outcome = await this.waitReady(gen);
    const ms = performance.now() - t0;
    if (outcome !== 'ready') {
      signal(gen.pid, 'SIGKILL');
      await gen.exited;
      if (old) this.stats.failedReloads++;
      this.keepOld(old);
      return { ok: false, error: outcome, output: gen.output.slice(), ms };
    }
    this.current = gen;
    if (old) this.stats.reloads++;
    return { ok: true, pid: gen.pid, oldPid: old?.pid, ms };
  }

  /** After a failed launch the old process stays current, unless it is gone too. */
  private keepOld(old: Generation | undefined): void {
    if (!old) return;
    old.retiring = false;
    if (!this.generations.has(old.pid) && this.current === old) {
      this.current = undefined;
      this.crashes++;
      this.scheduleRestart();
    }
  }

  /** Resolves 'ready' once the new process answers `show info` with its own pid, or says why not. */
  private async waitReady(gen: Generation): Promise<'ready' | string> {
    let exited = false;
    void gen.exited.then(() => (exited = true));
    const deadline = Date.now() + this.opts.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (exited) return `HAProxy exited during startup (${describeExit(gen.child)})`;
      const pid = await showInfo(this.opts.socketPath, 250)
        .then((info) => Number(info.Pid))
        .catch(() => undefined);
      if (pid === gen.pid) return 'ready';
      await sleep(5);
    }
    return `HAProxy did not answer on ${this.opts.socketPath} within ${this.opts.readyTimeoutMs} ms`;
  }

  private track(gen: Generation): void {
    this.generations.set(gen.pid, gen);
    void gen.exited.then(() => {
      this.generations.delete(gen.pid);
      this.emit('exit', gen.pid);
      const code = gen.child?.exitCode ?? null;
      const sig = gen.child?.signalCode ?? null;
      if (gen !== this.current || gen.retiring) {
        this.opts.log.info({ event: 'haproxy_exit', pid: gen.pid, code, signal: sig }, 'old HAProxy process finished');
        return;
      }
      this.current = undefined;
      if (this.stopping) return;
      this.stats.crashes++;
      const lived = Date.now() - gen.startedAt;
      this.crashes = lived > STABLE_MS ? 1 : this.crashes + 1;
      this.opts.log.error({ event: 'haproxy_crash', pid: gen.pid, code, signal: sig, lived_ms: lived, output: gen.output.slice(-5) }, 'HAProxy exited unexpectedly; restarting');
      this.emit('crash', gen.pid, code, sig);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.stopping || this.restartTimer) return;
    const base = this.opts.restartBaseMs ?? 100;
    const delay = this.crashes <= 1 ? 0 : Math.min(base * 2 ** (this.crashes - 2), this.opts.restartMaxMs ?? 5_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping || this.current) return;
      this.serialise(() => (this.current ? Promise.resolve(undefined) : this.launch()))
        .then((res) => {
          if (!res) return;
          if (res.ok) this.opts.log.info({ event: 'haproxy_restart', pid: res.pid, ms: Math.round(res.ms) }, 'HAProxy restarted');
          else {
            this.crashes++;
            this.opts.log.error({ event: 'haproxy_restart_failed', error: res.error, output: res.output.slice(-5) }, 'HAProxy restart failed');
            this.scheduleRestart();
          }
          this.emit('restarted', res);
        })
        .catch(() => undefined);
    }, delay);
  }

  private forwardOutput(gen: Generation): void {
    const child = gen.child!;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        gen.output.push(line);
        if (gen.output.length > OUTPUT_LINES) gen.output.shift();
        const level = line.includes('[ALERT]') ? 'error' : ECHO.test(line) ? 'debug' : line.includes('[WARNING]') && !ROUTINE.test(line) ? 'warn' : 'info';
        this.opts.log[level]({ event: 'haproxy_output', pid: gen.pid, line }, 'haproxy');
      });
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** For a process that is not our child: resolves once it is gone. */
function pollExit(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!isAlive(pid)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    timer.unref();
  });
}

function describeExit(child?: ChildProcess): string {
  if (!child) return 'unknown';
  return child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return done;
}
