import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log';
import { showInfo } from './runtime-client';
import { isAlive, isStoppedState, pollExit, procState, signal } from './proc';
import { describeExit, forwardOutput, watchRetiring, type Generation } from './generation';

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
  /**
   * A retiring (old) generation seen stopped (/proc state `T`, e.g. `kill -STOP`) for this long
   * is SIGKILLed: it cannot act on the soft stop, yet its listeners still take a share of the
   * new connections (SO_REUSEPORT). Default 1000 ms.
   */
  wedgedKillMs?: number;
  /** `replace()`: how long the new process may take to become ready with the socket handoff before it is tried without it. Default 3000 ms (at most readyTimeoutMs). */
  handoffTimeoutMs?: number;
}

export type LaunchResult =
  | { ok: true; pid: number; oldPid?: number; ms: number }
  | { ok: false; error: string; output: string[]; ms: number };

const STABLE_MS = 10_000;
const HANDOFF_FAILED = /Failed to get the sockets from the old process|Failed to connect to the old process/;

/**
 * Runs HAProxy as child processes, one per configuration generation.
 *
 * A reload starts a new process with `-x <admin socket> -sf <old pid>`: it takes
 * the listening sockets over from the old process (no connection is refused in
 * between; a plain `-sf` drops some, see docs/runtime-facts.md), then
 * tells the old one to finish its connections and exit. Every pid is tracked until
 * it exits, and all of them are stopped with the agent.
 *
 * A process that cannot act is not left on the ports: an old generation seen stopped
 * (/proc state T) for `wedgedKillMs` after a reload is SIGKILLed (a responsive one finishing
 * its connections is left alone, up to hard_stop_after), a reload skips the handoff from a
 * stopped process, and `replace()` swaps out a current process that does not answer.
 * Every exit is logged as what it was (`haproxy_exit` with `role`: old, new, wedged, current;
 * `haproxy_crash` for the current process dying).
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

  /** New binary, config path or timeouts (SIGHUP): they apply from the next start, reload or stop. */
  configure(opts: Partial<Omit<SupervisorOptions, 'socketPath' | 'log'>>): void {
    this.opts = { ...this.opts, ...opts };
  }

  /** The pid serving now, if any. */
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

  /**
   * Replaces the current HAProxy because it does not answer (for the liveness monitor,
   * src/agent/haproxy-health.ts, after haproxy.unresponsive_replace_ms). Serialised with
   * start, reload and stop. A new process reading the config file on disk is started:
   * with the socket handoff (`-x`) first, bounded by `handoffTimeoutMs`, unless the current
   * process is stopped (/proc state T), which cannot answer a handoff; then without it
   * (both bind the ports with SO_REUSEPORT). Once the new process answers, the old one is
   * SIGKILLed (a stopped process cannot act on SIGUSR1, but dies on SIGKILL), so exactly
   * one HAProxy holds the ports. Logs `haproxy_replaced` (reason, old_pid, pid, handoff) or
   * `haproxy_replace_failed` (the old process is then left as it is: better a wedged one
   * than none). `opts.pid`: replace only if that pid is still current (a reload or restart
   * in between already replaced it; then resolves ok with the current pid and does nothing).
   * With no HAProxy running it starts one.
   */
  replace(reason: string, opts: { pid?: number } = {}): Promise<LaunchResult> {
    return this.serialise(async () => {
      const t0 = performance.now();
      const old = this.current;
      if (old && opts.pid !== undefined && old.pid !== opts.pid) {
        this.opts.log.info({ event: 'haproxy_replace_skipped', reason, pid: old.pid, asked_pid: opts.pid }, `not replacing HAProxy pid ${opts.pid}: pid ${old.pid} has taken over since`);
        return { ok: true, pid: old.pid, ms: 0 };
      }
      if (!old) {
        const res = await this.launch();
        this.logReplace(reason, undefined, res, false, t0);
        return res;
      }
      const oldState = procState(old.pid);
      let res: LaunchResult | undefined;
      let handoff = false;
      if (!isStoppedState(oldState)) {
        const bound = Math.min(this.opts.handoffTimeoutMs ?? 3000, this.opts.readyTimeoutMs);
        res = await this.launchOnce(true, bound);
        handoff = res.ok;
        if (!res.ok && this.current === old) {
          this.opts.log.warn({ event: 'haproxy_handoff_failed', old_pid: old.pid, error: res.error, output: res.output.slice(-3) }, `replacing HAProxy pid ${old.pid}: the new process started with the socket handoff did not come up (${res.error}); starting one without the handoff`);
        }
      }
      if (!res?.ok && this.current === old) res = await this.launchOnce(false);
      if (!res) res = { ok: false, error: 'HAProxy exited while being replaced', output: [], ms: performance.now() - t0 };
      if (res.ok && res.pid !== old.pid && this.generations.has(old.pid)) {
        old.killed = `replaced: ${reason}`;
        signal(old.pid, 'SIGKILL');
        await within(old.exited, 2000);
      }
      this.logReplace(reason, { pid: old.pid, state: oldState }, res, handoff, t0);
      return res;
    });
  }

  private logReplace(reason: string, old: { pid: number; state?: string } | undefined, res: LaunchResult, handoff: boolean, t0: number): void {
    const ms = Math.round(performance.now() - t0);
    if (res.ok) {
      const was = old ? `pid ${old.pid}${old.state ? ` (state ${old.state})` : ''}` : 'none running';
      this.opts.log.warn(
        { event: 'haproxy_replaced', reason, old_pid: old?.pid, old_state: old?.state, pid: res.pid, handoff, ms },
        `replaced unresponsive HAProxy ${was} with pid ${res.pid} (${handoff ? 'socket handoff' : 'no socket handoff'}): ${reason}`,
      );
    } else {
      this.opts.log.error(
        { event: 'haproxy_replace_failed', reason, old_pid: old?.pid, old_state: old?.state, error: res.error, output: res.output.slice(-5), ms },
        `could not replace unresponsive HAProxy${old ? ` pid ${old.pid}` : ''}: ${res.error}`,
      );
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.chain.catch(() => undefined);
    const gens = [...this.generations.values()];
    // SIGUSR1 is HAProxy's soft stop: close listeners, let open connections finish.
    // A stopped process (state T) cannot act on it; waiting stopTimeoutMs for it helps nobody.
    for (const g of gens) {
      const state = procState(g.pid);
      if (isStoppedState(state)) {
        g.killed = `stopped (state ${state}) when the agent stopped`;
        signal(g.pid, 'SIGKILL');
      } else signal(g.pid, 'SIGUSR1');
    }
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
    const old = this.current;
    if (old && isStoppedState(procState(old.pid))) {
      // A stopped process cannot answer the handoff (HAProxy would wait 1 s for it, then give up).
      this.opts.log.warn({ event: 'haproxy_handoff_skipped', old_pid: old.pid, old_state: procState(old.pid) }, `HAProxy pid ${old.pid} is stopped (state T) and cannot hand its sockets over; reloading without the handoff`);
      return this.launchOnce(false);
    }
    const res = await this.launchOnce(true);
    if (res.ok || !this.current || !res.output.some((l) => HANDOFF_FAILED.test(l))) return res;
    // The old process's admin socket is unusable (deleted, not ours, or the process does not
    // answer): a plain -sf reload may refuse a few connections, but staying stuck on an old
    // config forever is worse.
    this.opts.log.warn(
      { event: 'haproxy_handoff_failed', old_pid: this.current.pid, failed_pid: res.pid, output: res.output.slice(-3) },
      `new HAProxy process could not take the listening sockets over from pid ${this.current.pid}; starting another without the handoff`,
    );
    return this.launchOnce(false);
  }

  private async launchOnce(handoff: boolean, readyBoundMs = this.opts.readyTimeoutMs): Promise<LaunchResult & { pid?: number }> {
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
      starting: true,
      // 'close' rather than 'exit': by then every line HAProxy printed has been read.
      exited: new Promise((resolve) => child.once('close', () => resolve())),
    };
    forwardOutput(gen, this.opts.log);
    this.track(gen);
    this.stats.starts++;

    const outcome = await this.waitReady(gen, readyBoundMs);
    const ms = performance.now() - t0;
    if (outcome !== 'ready') {
      gen.failure = outcome;
      signal(gen.pid, 'SIGKILL');
      await gen.exited;
      if (old) this.stats.failedReloads++;
      this.keepOld(old);
      return { ok: false, error: outcome, output: gen.output.slice(), ms, pid: gen.pid };
    }
    gen.starting = false;
    this.current = gen;
    if (old) {
      this.stats.reloads++;
      watchRetiring(old, {
        boundMs: this.opts.wedgedKillMs ?? 1000,
        log: this.opts.log,
        retiring: () => this.generations.has(old.pid) && old !== this.current,
        currentPid: () => this.current?.pid,
      });
    }
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
  private async waitReady(gen: Generation, boundMs: number): Promise<'ready' | string> {
    let exited = false;
    void gen.exited.then(() => (exited = true));
    const deadline = Date.now() + boundMs;
    while (Date.now() < deadline) {
      if (exited) return `HAProxy exited during startup (${describeExit(gen.child)})`;
      const pid = await showInfo(this.opts.socketPath, 250)
        .then((info) => Number(info.Pid))
        .catch(() => undefined);
      if (pid === gen.pid) return 'ready';
      await sleep(5);
    }
    return `HAProxy did not answer on ${this.opts.socketPath} within ${boundMs} ms`;
  }

  private track(gen: Generation): void {
    this.generations.set(gen.pid, gen);
    void gen.exited.then(() => {
      this.generations.delete(gen.pid);
      this.emit('exit', gen.pid);
      const code = gen.child?.exitCode ?? null;
      const sig = gen.child?.signalCode ?? null;
      const how = gen.adopted && !gen.child ? 'exited' : sig ? `killed by ${sig}` : `exit code ${code}`;
      const base = { event: 'haproxy_exit', pid: gen.pid, code, signal: sig };
      if (gen.starting) {
        // A new process that never served: it failed its start (handoff refused, bad config, timeout).
        const why = gen.failure ?? 'exited during startup';
        const handoff = gen.output.some((l) => HANDOFF_FAILED.test(l));
        this.opts.log.info({ ...base, role: 'new', handoff_failed: handoff, error: why }, `new HAProxy process pid ${gen.pid} failed to start and is gone (${how}): ${handoff ? 'socket handoff failed' : why}`);
        return;
      }
      if (gen.killed) {
        this.opts.log.info({ ...base, role: 'wedged', why: gen.killed }, `wedged HAProxy process pid ${gen.pid} killed (${gen.killed})`);
        if (gen === this.current) this.current = undefined;
        return;
      }
      if (gen !== this.current || gen.retiring) {
        const finished = !sig && code === 0;
        this.opts.log.info(
          { ...base, role: 'old' },
          finished ? `old HAProxy generation pid ${gen.pid} finished its connections and exited` : `old HAProxy generation pid ${gen.pid} ended (${how})`,
        );
        return;
      }
      this.current = undefined;
      if (this.stopping) {
        this.opts.log.info({ ...base, role: 'current' }, `HAProxy pid ${gen.pid} stopped with the agent (${how})`);
        return;
      }
      this.stats.crashes++;
      const lived = Date.now() - gen.startedAt;
      this.crashes = lived > STABLE_MS ? 1 : this.crashes + 1;
      this.opts.log.error({ event: 'haproxy_crash', pid: gen.pid, code, signal: sig, lived_ms: lived, output: gen.output.slice(-5) }, `current HAProxy pid ${gen.pid} exited unexpectedly (${how}); restarting`);
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
          if (res.ok) this.opts.log.info({ event: 'haproxy_restart', pid: res.pid, ms: Math.round(res.ms) }, `HAProxy restarted after a crash: pid ${res.pid}`);
          else {
            this.crashes++;
            this.opts.log.error({ event: 'haproxy_restart_failed', error: res.error, output: res.output.slice(-5) }, `HAProxy restart after a crash failed: ${res.error}`);
            this.scheduleRestart();
          }
          this.emit('restarted', res);
        })
        .catch(() => undefined);
    }, delay);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const done = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return done;
}
