import { rename, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { Logger } from '../log';
import { listenKey } from '../model/changes';
import type { DesiredService } from '../model/desired';
import type { ListenSpec } from '../model/service';
import type { ReloadDecision } from '../plan/apply-plan';
import { attributeMessages, checkConfig, checkConfigText, type ConfigProblem } from '../haproxy/config-check';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { isStoppedState, procState } from '../haproxy/proc';
import type { Supervisor } from '../haproxy/supervisor';
import { renderConfig, type RenderSettings } from '../render/render';
import type { CompiledTemplates } from '../render/templates';
import { siblingTempPath, writeAndSync, writeFileAtomic } from '../util/atomic-write';

// A bad service is set aside and the render retried; this bounds the retries of one apply.
const MAX_ATTEMPTS = 5;
// A config refused with no line to blame: at most this many changed services are checked one by one.
const MAX_ISOLATE = 16;
// Dumping every server's state takes about 0.2 s at 200,000 servers.
const STATE_SAVE_MS = 2000;

export interface ReloadPaths {
  binary: string;
  configPath: string;
  stateFile: string;
}

/** What one reload works from; the hooks let the agent's desired state follow what HAProxy refuses. */
export interface ReloadJob {
  templates: CompiledTemplates;
  settings: RenderSettings;
  /** Renders the whole config (sections of unchanged services may come from a cache). */
  render(services: readonly DesiredService[]): string;
  running: ReadonlyMap<string, DesiredService>;
  runningText?: string;
  /** What should run now and why a reload is needed; `reload: false` when it no longer is. */
  next(): { services: DesiredService[]; decision: ReloadDecision };
  /** HAProxy refused this listen section: set it aside (the next `next()` leaves it out). Returns where the blob lives. */
  reject(name: string, listen: ListenSpec, message: string): string | undefined;
}

export type ReloadResult =
  | { done: false }
  | { done: true; ok: true; services: DesiredService[]; text: string; decision: Extract<ReloadDecision, { reload: true }>; pid?: number; oldPid?: number; haproxyMs: number; ms: number; started: boolean }
  | { done: true; ok: false; error: string; problems: ConfigProblem[]; decision?: Extract<ReloadDecision, { reload: true }>; ms: number };

/**
 * The reload path: render everything, `haproxy -c`, set aside services HAProxy points at
 * (or, when it names no line, those it refuses checked one by one), save server state,
 * put the file in place and hand the listening sockets to a new HAProxy.
 */
export class Reloader {
  constructor(
    private readonly paths: () => ReloadPaths,
    private readonly supervisor: Supervisor,
    private readonly client: RuntimeClient | undefined,
    private readonly log: Logger,
  ) {}

  async reload(job: ReloadJob): Promise<ReloadResult> {
    const t0 = performance.now();
    try {
      return await this.attempts(job, t0);
    } catch (err) {
      // Disk full, permissions, ...: HAProxy keeps running what it has; report and carry on.
      return this.failed(`apply failed: ${(err as Error).message}`, [], t0);
    }
  }

  private async attempts(job: ReloadJob, t0: number): Promise<ReloadResult> {
    const p = this.paths();
    let decision: Extract<ReloadDecision, { reload: true }> | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const next = job.next();
      if (!next.decision.reload) return { done: false };
      decision = next.decision;
      const services = next.services;
      const text = job.render(services);
      // `haproxy -c` reads the state file too: give a first start an empty one (version line only).
      if (!existsSync(p.stateFile)) await writeFileAtomic(p.stateFile, '1\n', 0o600);
      const candidate = siblingTempPath(p.configPath, 'candidate');
      await writeAndSync(candidate, text);
      const check = await checkConfig(p.binary, candidate, text);
      for (const w of check.warnings) this.log.warn({ event: 'haproxy_warning', service: w.service, message: w.message }, 'haproxy -c warning');
      if (!check.ok) {
        await unlink(candidate).catch(() => undefined);
        if (this.blame(job, check.problems, services, 'haproxy -c')) continue;
        if (await this.isolate(job, check.problems, services)) continue;
        return this.failed('haproxy -c rejected the configuration; HAProxy keeps running the previous one', check.problems, t0, decision);
      }
      await this.saveServerState(p.stateFile);
      await rename(candidate, p.configPath);

      const wasRunning = this.supervisor.running;
      const res = wasRunning ? await this.supervisor.reload() : await this.supervisor.start();
      if (!res.ok) {
        // The new process refused to start (port in use, ...): put the running config back on disk.
        if (job.runningText !== undefined) await writeFileAtomic(p.configPath, job.runningText);
        const { alerts } = attributeMessages(res.output.join('\n'), p.configPath, text);
        if (this.blame(job, alerts, services, 'HAProxy startup')) continue;
        return this.failed(`HAProxy failed to start with the new configuration: ${res.error}`, alerts.length ? alerts : [{ message: res.error }], t0, decision);
      }
      const ms = performance.now() - t0;
      this.log.info(
        {
          event: wasRunning ? 'reload' : 'start',
          reason: decision.reason,
          kind: decision.kind,
          services: decision.services,
          pid: res.pid,
          old_pid: res.oldPid,
          haproxy_ms: Math.round(res.ms),
          ms: Math.round(ms),
        },
        wasRunning ? `reloaded HAProxy: ${decision.reason}` : `started HAProxy: ${decision.reason}`,
      );
      return { done: true, ok: true, services, text, decision, pid: res.pid, oldPid: res.oldPid, haproxyMs: res.ms, ms, started: !wasRunning };
    }
    return this.failed('gave up after setting aside services HAProxy refused', [], t0, decision);
  }

  private failed(error: string, problems: ConfigProblem[], t0: number, decision?: Extract<ReloadDecision, { reload: true }>): ReloadResult {
    const ms = performance.now() - t0;
    this.log.error({ event: 'apply_failed', error, problems, ms: Math.round(ms) }, error);
    return { done: true, ok: false, error, problems, decision, ms };
  }

  /**
   * Dumps `show servers state` to the state file the new process loads, so runtime
   * weights, maint and health survive the reload. Server names carry the port, so
   * the stale-port trap (haproxy/haproxy#1412, #2103) cannot hit a renamed server.
   * At a start, an HAProxy left running by an earlier agent (about to be adopted) is
   * asked the same; with none, the file is emptied: what a stopped HAProxy had is not
   * what should run (operators' decisions come from the overrides file instead).
   */
  private async saveServerState(stateFile: string): Promise<void> {
    if (!this.client) return;
    const pid = this.supervisor.pid;
    if (pid !== undefined && isStoppedState(procState(pid))) {
      this.log.warn({ event: 'state_save_failed', pid, error: 'HAProxy is stopped (SIGSTOP)' }, 'HAProxy is stopped: server states not saved before the reload');
      return;
    }
    try {
      // Its own connection and a short deadline: a wedged HAProxy must not hold the reload
      // that replaces it for the whole runtime timeout (its states are then lost, not the change).
      const text = await this.client.query('show servers state', STATE_SAVE_MS);
      if (/^1\n/.test(text)) await writeFileAtomic(stateFile, text.endsWith('\n') ? text : `${text}\n`, 0o600);
      else this.log.warn({ event: 'state_save_failed', error: text.trim().slice(0, 200) }, 'could not save server state before reload');
    } catch (err) {
      if (!this.supervisor.running) return writeFileAtomic(stateFile, '1\n', 0o600);
      this.log.warn({ event: 'state_save_failed', error: (err as Error).message }, 'could not save server state before reload');
    }
  }

  /**
   * HAProxy refused the config with an alert that names no line (some keyword errors in
   * 2.6 do): checks each new or changed service alone on top of what runs, and sets
   * aside those HAProxy refuses. Bounded, since each check costs a `haproxy -c`.
   * Returns true when a retry makes sense.
   */
  private async isolate(job: ReloadJob, problems: ConfigProblem[], services: DesiredService[]): Promise<boolean> {
    const running = job.running;
    const changed = services.filter((s) => {
      const r = running.get(s.name);
      return !r || listenKey(r.listen) !== listenKey(s.listen);
    });
    if (changed.length === 0 || changed.length > MAX_ISOLATE) return false;
    // What runs now, with the desired servers: the base each suspect is tried on alone.
    const base = services.filter((s) => running.has(s.name)).map((s) => ({ ...s, listen: running.get(s.name)!.listen }));
    const p = this.paths();
    const guilty: DesiredService[] = [];
    for (const suspect of changed) {
      const text = renderConfig(job.templates, job.settings, [...base.filter((s) => s.name !== suspect.name), suspect]);
      if (!(await checkConfigText(p.binary, p.configPath, text, 'isolate')).ok) guilty.push(suspect);
    }
    if (guilty.length === 0) return false;
    const message = problems.map((x) => x.message).join(' | ');
    return this.blame(job, guilty.map((s) => ({ service: s.name, message })), services, 'haproxy -c (each change checked alone)');
  }

  /**
   * Sets aside the services HAProxy's messages point at, if each of them is new or
   * changed (an unchanged one cannot be the cause). Returns true when a retry makes sense.
   */
  private blame(job: ReloadJob, problems: ConfigProblem[], services: DesiredService[], stage: string): boolean {
    const byService = new Map<string, { listen: ListenSpec; messages: string[] }>();
    for (const p of problems) {
      if (!p.service) return false;
      const s = services.find((x) => x.name === p.service);
      const r = s && job.running.get(s.name);
      if (!s || (r && listenKey(r.listen) === listenKey(s.listen))) return false;
      const b = byService.get(s.name) ?? { listen: s.listen, messages: [] };
      b.messages.push(p.message);
      byService.set(s.name, b);
    }
    if (byService.size === 0) return false;
    for (const [name, { listen, messages }] of byService) {
      const origin = job.reject(name, listen, messages.join(' | '));
      this.log.error(
        { event: 'service_rejected', service: name, origin, stage, haproxy: messages, keeping: job.running.has(name) ? 'running definition' : 'nothing (service not started)' },
        `service ${name}: HAProxy rejected its definition`,
      );
    }
    return true;
  }
}
