import type { EventEmitter } from 'node:events';
import type { Config } from '../config/load';
import type { RuntimeClient } from '../haproxy/runtime-client';
import type { Logger } from '../log';
import type { DesiredService } from '../model/desired';
import { writeFileAtomic } from '../util/atomic-write';
import type { ApplyState } from './apply-state';
import { RepeatedWarning } from './log-limit';
import { RuntimeUpdater, type RuntimeTrigger } from './runtime-updater';
import type { AgentEvents, AgentStats } from './view';

// Keeping haproxy.cfg equal to what runs costs a write of the whole file: at most one per
// this many ms, and never more than about 1/PERSIST_SHARE of the agent's time.
const PERSIST_MS = 200;
const PERSIST_SHARE = 20;
const DRIFT_SHARE = 20;

export interface RuntimePathDeps {
  apply: ApplyState;
  client: RuntimeClient;
  log: Logger;
  events: EventEmitter<AgentEvents>;
  stats: AgentStats;
  /** Runs `fn` on the agent's one chain, after whatever runs now. */
  enqueue<T>(fn: () => Promise<T>): Promise<T>;
  /** Brings the desired state and the apply state up to date. */
  absorb(): void;
  all(): readonly DesiredService[];
  render(services: readonly DesiredService[]): string;
  haproxyRunning(): boolean;
  config(): Config;
  /** The runtime API refused something: a reload must follow. */
  needReload(): void;
}

/**
 * Drives the runtime path: batches of server changes per event-loop tick, drift repair
 * and drain retries on timers, and keeping the config file on disk equal to what runs.
 */
export class RuntimePath {
  private queued = false;
  private stopped = false;
  private persistTimer?: NodeJS.Timeout;
  private persistEveryMs = PERSIST_MS;
  private retryTimer?: NodeJS.Timeout;
  private driftTimer?: NodeJS.Timeout;
  /** CPU time the last drift pass took (the whole process's, so an upper bound). */
  private driftCostMs = 0;
  /** The first change not yet sent over the runtime API (performance.now()). */
  private pendingSince?: number;
  private readonly updater: RuntimeUpdater;
  /** Retried every second while the socket is unreachable: one line, then one a minute. */
  private readonly unavailable: RepeatedWarning;

  constructor(private readonly d: RuntimePathDeps) {
    this.updater = new RuntimeUpdater(d.client, d.log, () => d.config().runtime.drain_ms);
    this.unavailable = new RepeatedWarning(d.log);
  }

  /** Forget drain bookkeeping (after a reload every server comes from the new config). */
  reset(): void {
    this.updater.reset();
  }

  stop(): void {
    this.stopped = true;
    for (const t of [this.retryTimer, this.driftTimer, this.persistTimer]) clearTimeout(t);
  }

  /** Something waits for the runtime path: it goes out on the next tick. */
  changed(): void {
    this.pendingSince ??= performance.now();
    this.queue('change');
  }

  queue(trigger: RuntimeTrigger): void {
    if (this.queued || this.stopped || !this.d.config().runtime.enabled) return;
    this.queued = true;
    // setImmediate: every watcher report of this tick goes out in one batch.
    setImmediate(() => {
      this.queued = false;
      void this.d.enqueue(() => this.update(trigger));
    });
  }

  /** The drift interval changed (SIGHUP): the next pass is due one new interval from now. */
  rearmDrift(): void {
    clearTimeout(this.driftTimer);
    this.armDrift();
  }

  /**
   * A drift pass reads and compares every backend: about 0.9 s of CPU at 10,000 services
   * of 20 servers. The next pass waits the configured interval, or longer when the last
   * pass was that costly, so drift repair takes at most about 1/DRIFT_SHARE of a core.
   */
  armDrift(): void {
    const every = this.d.config().runtime.drift_interval_ms;
    if (!every || this.stopped) return;
    const delay = Math.max(every, DRIFT_SHARE * this.driftCostMs);
    this.driftTimer = setTimeout(() => {
      void this.d
        .enqueue(async () => {
          const c0 = process.cpuUsage();
          await this.update('drift');
          const c = process.cpuUsage(c0);
          this.driftCostMs = (c.user + c.system) / 1000;
        })
        .finally(() => this.armDrift());
    }, delay);
    this.driftTimer.unref();
  }

  /** Servers of services whose listen section runs unchanged, with no reload. */
  private async update(trigger: RuntimeTrigger): Promise<void> {
    const { apply, events, stats } = this.d;
    if (this.stopped || !this.d.haproxyRunning() || apply.text === undefined) return;
    this.d.absorb();
    const batch = trigger === 'change' ? apply.takeRuntime() : trigger === 'drift' ? apply.settled() : apply.eligible(this.d.all());
    // Changes reported from here on are measured from their own arrival.
    const pendingSince = this.pendingSince;
    this.pendingSince = undefined;
    const t0 = performance.now();
    let outcome;
    try {
      outcome = await this.updater.update(batch, trigger);
    } catch (err) {
      // The admin socket is unreachable (HAProxy restarting?): try the same services again.
      this.unavailable.warn({ event: 'runtime_unavailable', error: (err as Error).message }, 'runtime API unavailable; will retry');
      apply.classify(batch.map((s) => s.name));
      this.retry(1000);
      return;
    }
    if (this.unavailable.active) this.d.log.info({ event: 'runtime_available', repeated: this.unavailable.clear() }, 'runtime API answers again');
    stats.runtimeUpdates++;
    stats.runtimeCommands += outcome.commands;
    const now = performance.now();
    events.emit('runtime', { trigger, commands: outcome.commands, planSeconds: outcome.planMs / 1000, seconds: (now - t0) / 1000 });
    if (outcome.commands > 0 && outcome.applied.length && pendingSince !== undefined && trigger === 'change') {
      events.emit('propagated', { path: 'runtime', seconds: (now - pendingSince) / 1000 });
    }
    if (outcome.commands > 0) events.emit('changed', outcome.applied);
    const applied = new Set(outcome.applied);
    apply.applied(batch.filter((s) => applied.has(s.name)));
    for (const r of outcome.needReload) apply.refuse(r.service, r.reason);
    if (outcome.needReload.length) this.d.needReload();
    if (outcome.retryInMs !== undefined) this.retry(outcome.retryInMs);
    // A drift pass that found HAProxy in line applied nothing new: the file already says it (no render of every service).
    if (applied.size && (outcome.commands > 0 || trigger !== 'drift')) this.schedulePersist();
    // What changed while the batch was out goes next.
    if (apply.hasRuntimeWork()) this.changed();
  }

  private retry(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.queue('drain'), ms);
  }

  /**
   * Keeps the file on disk equal to what runs, so that a crash restart or a reload
   * reproduces it. Only changed services' sections are rendered again, but the whole
   * file is written: batched, and spaced by its own measured cost. A crash restart in
   * between is no harm: the restart hook compares HAProxy with the desired state.
   */
  private schedulePersist(): void {
    if (this.persistTimer || this.stopped) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.d.enqueue(() => this.persist()).catch((err: Error) =>
        this.d.log.warn({ event: 'persist_failed', error: err.message }, 'could not rewrite the HAProxy config file; will retry on the next change'),
      );
    }, this.persistEveryMs);
  }

  private async persist(): Promise<void> {
    const { apply } = this.d;
    if (this.stopped || apply.text === undefined) return;
    const t0 = performance.now();
    const text = this.d.render([...apply.running.values()]);
    if (text === apply.text) return;
    // No fsync: after a machine crash the agent renders the file anew from its sources.
    await writeFileAtomic(this.d.config().haproxy.config_path, text, 0o644, false);
    apply.text = text;
    this.persistEveryMs = Math.max(PERSIST_MS, PERSIST_SHARE * (performance.now() - t0));
  }
}
