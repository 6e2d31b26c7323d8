import { statSync } from 'node:fs';
import type { Config } from '../config/load';
import { RuntimeTimeout, type RuntimeClient } from '../haproxy/runtime-client';
import type { Supervisor } from '../haproxy/supervisor';
import type { Logger } from '../log';
import { watchFile } from '../util/dir-watch';

/** How often HAProxy is asked `show info` while it should run, and how long it gets to answer. */
export const PROBE_EVERY_MS = 1000;
export const PROBE_TIMEOUT_MS = 1000;
/** A lost admin socket is recreated by a reload at most this often (the reload itself may fail). */
export const REPAIR_EVERY_MS = 5000;

export interface HaproxyHealthDeps {
  client: RuntimeClient;
  socketPath: string;
  log: Logger;
  /** HAProxy should be running and answering now (started, supervised, not stopping). */
  shouldRun(): boolean;
  /** How long HAProxy may stay unresponsive before `replace` (haproxy.unresponsive_replace_ms). */
  replaceAfterMs(): number;
  /** Starts a new HAProxy in place of a wedged one (Supervisor.replace). */
  replace(reason: string): Promise<unknown>;
  /** Recreates the admin socket: a reload, whose new process binds `stats socket` afresh. */
  repairSocket(reason: string): Promise<unknown>;
  now?: () => number;
  /** For tests: the probe (default `show info` with PROBE_TIMEOUT_MS), the socket check, the directory watch. */
  probe?: () => Promise<unknown>;
  socketExists?: () => boolean;
  watch?: (path: string, onEvent: () => void, onReset: () => void) => () => void;
  probeEveryMs?: number;
}

/**
 * HAProxy's liveness as the agent sees it. HAProxy counts as `unresponsive` from the
 * first runtime call that hits its deadline (a batch, a stats read, or the `show info`
 * probe every second) until one answers again; after `replaceAfterMs` it is replaced.
 * The admin socket file is watched (its directory's inotify watch, and a stat at each
 * probe): gone, it is a problem at once and a reload recreates it.
 */
export class HaproxyHealth {
  private unresponsiveSince?: number;
  private reason = '';
  private missingSince?: number;
  private probing = false;
  private replacing = false;
  private repairing = false;
  private lastRepairAt = -Infinity;
  private timer?: NodeJS.Timeout;
  private unwatch?: () => void;
  private stopped = false;
  private readonly now: () => number;
  private readonly onTimeout = (err: RuntimeTimeout) => {
    if (this.d.shouldRun()) this.markUnresponsive(err.message);
  };
  readonly stats = { replacements: 0, socketRepairs: 0 };

  constructor(private readonly d: HaproxyHealthDeps) {
    this.now = d.now ?? Date.now;
  }

  /**
   * Wires the health watch to the agent's supervisor and starts it (it probes only while
   * `shouldRun`); `afterRestart` runs after a replacement or repair went through.
   */
  static forAgent(o: { client: RuntimeClient; supervisor: Supervisor; log: Logger; config: () => Config; shouldRun: () => boolean; afterRestart: () => void }): HaproxyHealth {
    const log = o.log.child({ component: 'haproxy-health' });
    const then = (p: Promise<unknown>) =>
      p.then((res) => {
        if ((res as { ok?: boolean } | undefined)?.ok !== false) o.afterRestart();
        return res;
      });
    const health = new HaproxyHealth({
      client: o.client,
      socketPath: o.client.socketPath,
      log,
      shouldRun: () => o.shouldRun() && o.supervisor.running,
      replaceAfterMs: () => o.config().haproxy.unresponsive_replace_ms,
      // The pid asked about: a reload or restart that got there first makes the replacement a no-op.
      replace: (reason) => then(o.supervisor.replace(reason, { pid: o.supervisor.pid })),
      repairSocket: () => then(o.supervisor.reload()),
    });
    health.start();
    return health;
  }

  /** The probe timer (unref'd); the socket's directory is watched from the first probe on, when HAProxy runs. */
  start(): void {
    this.stopped = false;
    this.d.client.timeoutListeners.add(this.onTimeout);
    this.timer = setInterval(() => this.tick(), this.d.probeEveryMs ?? PROBE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unwatch?.();
    this.unwatch = undefined;
    this.d.client.timeoutListeners.delete(this.onTimeout);
  }

  get unresponsive(): boolean {
    return this.unresponsiveSince !== undefined;
  }

  get socketMissing(): boolean {
    return this.missingSince !== undefined;
  }

  /** Named agent-wide problems for /status, /readyz and proxymgr_agent_problems. */
  problems(): string[] {
    const out: string[] = [];
    if (this.unresponsiveSince !== undefined) out.push(`HAProxy is unresponsive: ${this.reason} (since ${new Date(this.unresponsiveSince).toISOString()})`);
    if (this.missingSince !== undefined) out.push(`HAProxy admin socket ${this.d.socketPath} is missing (since ${new Date(this.missingSince).toISOString()}); recreating it with a reload`);
    return out;
  }

  /** One probe round: the socket file, then `show info` (never two at once), then the replacement deadline. */
  tick(): void {
    if (!this.d.shouldRun()) {
      // Not running (crash, restart, stop) is the supervisor's to report and mend.
      this.clearUnresponsive('not running');
      this.missingSince = undefined;
      return;
    }
    if (!this.unwatch && !this.stopped) this.unwatch = (this.d.watch ?? watchFile)(this.d.socketPath, () => this.checkSocket(), () => this.checkSocket());
    this.checkSocket();
    this.maybeReplace();
    if (this.probing || this.missingSince !== undefined) return;
    this.probing = true;
    const probe = this.d.probe ?? (() => this.d.client.query('show info', PROBE_TIMEOUT_MS));
    void probe()
      .then(
        () => this.clearUnresponsive('answered'),
        (err: NodeJS.ErrnoException) => {
          // A timeout is reported by the client's listener (the default probe) or here (a test's probe).
          if (err instanceof RuntimeTimeout) this.markUnresponsive(err.message);
          else if (err.code === 'ENOENT') this.checkSocket();
          // Refused: HAProxy exited; the supervisor sees it and restarts it.
        },
      )
      .finally(() => {
        this.probing = false;
        this.maybeReplace();
      });
  }

  private markUnresponsive(reason: string): void {
    this.reason = reason;
    if (this.unresponsiveSince !== undefined) return;
    this.unresponsiveSince = this.now();
    this.d.log.warn({ event: 'haproxy_unresponsive', error: reason, replace_after_ms: this.d.replaceAfterMs() }, 'HAProxy does not answer on its admin socket');
  }

  private clearUnresponsive(why: string): void {
    if (this.unresponsiveSince === undefined) return;
    const ms = this.now() - this.unresponsiveSince;
    this.unresponsiveSince = undefined;
    this.d.log.info({ event: 'haproxy_responsive', why, unresponsive_ms: ms }, 'HAProxy answers on its admin socket again');
  }

  private maybeReplace(): void {
    const since = this.unresponsiveSince;
    if (since === undefined || this.replacing || !this.d.shouldRun() || this.now() - since < this.d.replaceAfterMs()) return;
    this.replacing = true;
    this.stats.replacements++;
    const reason = `HAProxy unresponsive for ${this.now() - since} ms: ${this.reason}`;
    this.d.log.error({ event: 'haproxy_replace', reason }, 'replacing the unresponsive HAProxy');
    void this.d
      .replace(reason)
      .catch((err: Error) => this.d.log.error({ event: 'haproxy_replace_failed', error: err.message }, 'replacing HAProxy failed'))
      .finally(() => {
        this.replacing = false;
        // Still unresponsive: the next attempt is one full period away.
        if (this.unresponsiveSince !== undefined) this.unresponsiveSince = this.now();
      });
  }

  private exists(): boolean {
    if (this.d.socketExists) return this.d.socketExists();
    try {
      return statSync(this.d.socketPath).isSocket();
    } catch {
      return false;
    }
  }

  /** On every event for the socket's name and every probe: a missing socket is a problem at once, and repaired. */
  private checkSocket(): void {
    if (this.stopped || !this.d.shouldRun()) return;
    if (this.exists()) {
      if (this.missingSince === undefined) return;
      this.d.log.info({ event: 'admin_socket_restored', missing_ms: this.now() - this.missingSince }, 'HAProxy admin socket is back');
      this.missingSince = undefined;
      return;
    }
    if (this.missingSince === undefined) {
      this.missingSince = this.now();
      this.d.log.warn({ event: 'admin_socket_missing', path: this.d.socketPath }, 'HAProxy admin socket is gone; recreating it with a reload');
    }
    if (this.repairing || this.now() - this.lastRepairAt < REPAIR_EVERY_MS) return;
    this.repairing = true;
    this.lastRepairAt = this.now();
    this.stats.socketRepairs++;
    void this.d
      .repairSocket(`admin socket ${this.d.socketPath} missing`)
      .then((res) => {
        const r = res as { ok?: boolean; error?: string } | undefined;
        if (r?.ok === false) this.d.log.error({ event: 'admin_socket_repair_failed', error: r.error }, 'the reload to recreate the admin socket failed; will retry');
      })
      .catch((err: Error) => this.d.log.error({ event: 'admin_socket_repair_failed', error: err.message }, 'the reload to recreate the admin socket failed; will retry'))
      .finally(() => {
        this.repairing = false;
        this.checkSocket();
      });
  }
}
