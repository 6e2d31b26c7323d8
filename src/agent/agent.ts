import { rename, unlink } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { changedServices, describeChanges, listenKey, summarizeChanges } from '../model/changes';
import { assignPorts, type DesiredService } from '../model/desired';
import type { ListenSpec } from '../model/service';
import { checkConfig, attributeMessages, type ConfigProblem } from '../haproxy/config-check';
import { Supervisor } from '../haproxy/supervisor';
import { renderConfig, type RenderSettings } from '../render/render';
import { loadTemplates, type CompiledTemplates } from '../render/templates';
import { createServiceConfigSource } from '../service-config';
import type { ServiceConfigSource } from '../service-config/source';
import { siblingTempPath, writeAndSync, writeFileAtomic } from '../util/atomic-write';
import { Quiescence } from '../util/quiescence';
import { ServiceTable, type ServiceStatus } from './service-table';

export interface AgentOptions {
  /** Run HAProxy (the `run` command). Without it the agent only renders (`check`, `render`). */
  manageHAProxy: boolean;
  /** How long startup waits for every watcher's first report before rendering anyway. */
  initialSyncMs?: number;
}

export interface ApplyOutcome {
  reloaded: boolean;
  error?: string;
}

// A bad service is set aside and the render retried; this bounds the retries of one apply.
const MAX_ATTEMPTS = 5;

/**
 * The loop in the middle: service-config source -> service table (blobs, watchers)
 * -> desired state -> render -> `haproxy -c` -> write -> reload. Changes are
 * coalesced by a bounded quiescence timer so a burst costs one reload.
 */
export class Agent {
  readonly services: ServiceTable;
  readonly supervisor?: Supervisor;
  private source?: ServiceConfigSource;
  private templates: CompiledTemplates;
  private readonly quiescence: Quiescence;
  private running: DesiredService[] = [];
  private runningText?: string;
  private started = false;
  private stopped = false;
  private applying: Promise<ApplyOutcome> = Promise.resolve({ reloaded: false });
  lastError?: string;
  readonly stats = { applies: 0, reloads: 0, failedApplies: 0 };

  constructor(
    private config: Config,
    private readonly log: Logger,
    private readonly opts: AgentOptions,
  ) {
    this.templates = loadTemplates(config.haproxy.template_dir);
    this.services = new ServiceTable(log, () => this.changed());
    this.quiescence = new Quiescence(
      { quietMs: config.reload.quiet_ms, maxWaitMs: config.reload.max_wait_ms, minIntervalMs: config.reload.min_interval_ms },
      () => this.applyNow().then(() => undefined),
      undefined,
      (err) => this.log.error({ event: 'apply_failed', error: (err as Error).message }, 'apply failed; will retry on the next change'),
    );
    if (opts.manageHAProxy) {
      const h = config.haproxy;
      this.supervisor = new Supervisor({
        binary: h.path,
        configPath: h.config_path,
        socketPath: h.socket_path,
        readyTimeoutMs: h.ready_timeout_ms,
        stopTimeoutMs: h.stop_timeout_ms,
        log: log.child({ component: 'haproxy' }),
      });
    }
  }

  /** Loads every service, waits for the watchers' first answers, then renders and (for `run`) starts HAProxy. */
  async start(): Promise<ApplyOutcome> {
    if (this.opts.manageHAProxy) {
      for (const p of [this.config.haproxy.config_path, this.config.haproxy.socket_path]) mkdirSync(dirname(p), { recursive: true });
    }
    this.source = createServiceConfigSource(this.config.service_config);
    await this.source.start(this.services);
    await this.waitSettled(this.opts.initialSyncMs ?? 3000);
    this.started = true;
    return this.opts.manageHAProxy ? this.applyNow() : { reloaded: false };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.quiescence.close();
    await this.source?.stop();
    await this.services.stopAll();
    await this.applying.catch(() => undefined);
    await this.supervisor?.stop();
  }

  /** SIGHUP: re-read proxymgr.yml. A bad file is reported and the running setup kept. */
  async reconfigure(config: Config): Promise<void> {
    const before = this.config;
    this.templates = loadTemplates(config.haproxy.template_dir);
    this.config = config;
    if (JSON.stringify(before.service_config) !== JSON.stringify(config.service_config)) {
      await this.source?.stop();
      this.services.markAllStale();
      this.source = createServiceConfigSource(config.service_config);
      await this.source.start(this.services);
      this.services.dropStale();
    }
    this.log.info({ event: 'config_reloaded', file: config.file }, 'configuration re-read');
    this.changed();
  }

  /** The haproxy.cfg the current state renders to (what `render` prints). */
  render(): string {
    return renderConfig(this.templates, this.renderSettings(), this.desired().services);
  }

  statuses(): ServiceStatus[] {
    return this.services.statuses();
  }

  /** Applies now, skipping the quiet period (startup, tests). */
  applyNow(): Promise<ApplyOutcome> {
    this.applying = this.applying.then(() => this.apply(), () => this.apply());
    return this.applying;
  }

  private changed(): void {
    if (this.started && !this.stopped && this.opts.manageHAProxy) this.quiescence.trigger();
  }

  private async waitSettled(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.services.settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private renderSettings(): RenderSettings {
    const h = this.config.haproxy;
    return { socketPath: h.socket_path, bindAddress: h.bind_address, hardStopAfter: h.hard_stop_after, global: h.global, defaults: h.defaults };
  }

  private desired(): { services: DesiredService[] } {
    const runningListen = new Map<string, ListenSpec>(this.running.map((s) => [s.name, s.listen]));
    const runningPorts = new Map(this.running.map((s) => [s.name, s.listen.port]));
    const { services, conflicts } = assignPorts(this.services.candidates(runningListen), runningPorts);
    for (const s of services) {
      const e = this.services.get(s.name);
      if (e) e.conflict = undefined;
    }
    for (const c of conflicts) {
      const e = this.services.get(c.name);
      const message = `port ${c.port} is already used by service ${c.holder}`;
      if (e && e.conflict !== message) this.log.error({ event: 'port_conflict', service: c.name, port: c.port, holder: c.holder }, `service ${c.name}: ${message}`);
      if (e) e.conflict = message;
    }
    return { services };
  }

  private async apply(): Promise<ApplyOutcome> {
    try {
      return await this.applyOnce();
    } catch (err) {
      // Disk full, permissions, ...: HAProxy keeps running what it has; report and carry on.
      return this.fail(`apply failed: ${(err as Error).message}`, [], performance.now());
    }
  }

  private async applyOnce(): Promise<ApplyOutcome> {
    if (this.stopped || !this.supervisor) return { reloaded: false };
    const t0 = performance.now();
    const h = this.config.haproxy;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { services } = this.desired();
      const text = renderConfig(this.templates, this.renderSettings(), services);
      if (text === this.runningText && this.supervisor.running) return { reloaded: false };
      this.stats.applies++;
      const changes = summarizeChanges(this.running, services);
      const serviceChange = changedServices(changes).length > 0;
      const reason =
        this.runningText === undefined ? 'initial start' : serviceChange ? describeChanges(changes) : 'global settings or templates changed (proxymgr.yml, SIGHUP)';

      const candidate = siblingTempPath(h.config_path, 'candidate');
      await writeAndSync(candidate, text);
      const check = await checkConfig(h.path, candidate, text);
      for (const w of check.warnings) this.log.warn({ event: 'haproxy_warning', service: w.service, message: w.message }, 'haproxy -c warning');
      if (!check.ok) {
        await unlink(candidate).catch(() => undefined);
        if (this.blame(check.problems, services, 'haproxy -c')) continue;
        return this.fail('haproxy -c rejected the configuration; HAProxy keeps running the previous one', check.problems, t0);
      }
      await rename(candidate, h.config_path);

      const wasRunning = this.supervisor.running;
      const res = wasRunning ? await this.supervisor.reload() : await this.supervisor.start();
      if (!res.ok) {
        // The new process refused to start (port in use, ...): put the running config back on disk.
        if (this.runningText !== undefined) await writeFileAtomic(h.config_path, this.runningText);
        const { alerts } = attributeMessages(res.output.join('\n'), h.config_path, text);
        if (this.blame(alerts, services, 'HAProxy startup')) continue;
        return this.fail(`HAProxy failed to start with the new configuration: ${res.error}`, alerts.length ? alerts : [{ message: res.error }], t0);
      }
      this.running = services;
      this.runningText = text;
      this.lastError = undefined;
      this.stats.reloads++;
      this.log.info(
        {
          event: wasRunning ? 'reload' : 'start',
          reason,
          services: changedServices(changes),
          pid: res.pid,
          old_pid: res.oldPid,
          haproxy_ms: Math.round(res.ms),
          ms: Math.round(performance.now() - t0),
        },
        wasRunning ? `reloaded HAProxy: ${reason}` : `started HAProxy: ${reason}`,
      );
      return { reloaded: true };
    }
    return this.fail('gave up after setting aside services HAProxy refused', [], t0);
  }

  /**
   * Sets aside the services HAProxy's messages point at, if each of them is new or
   * changed (an unchanged one cannot be the cause). Returns true when a retry makes sense.
   */
  private blame(problems: ConfigProblem[], services: DesiredService[], stage: string): boolean {
    const runningKeys = new Map(this.running.map((s) => [s.name, listenKey(s.listen)]));
    const byService = new Map<string, string[]>();
    for (const p of problems) {
      if (!p.service) return false;
      const s = services.find((x) => x.name === p.service);
      if (!s || runningKeys.get(s.name) === listenKey(s.listen)) return false;
      byService.set(s.name, [...(byService.get(s.name) ?? []), p.message]);
    }
    if (byService.size === 0) return false;
    for (const [name, messages] of byService) {
      const entry = this.services.get(name);
      const s = services.find((x) => x.name === name)!;
      if (!entry) continue;
      entry.rejected = { key: listenKey(s.listen), message: messages.join(' | ') };
      this.log.error(
        { event: 'service_rejected', service: name, origin: entry.origin, stage, haproxy: messages, keeping: runningKeys.has(name) ? 'running definition' : 'nothing (service not started)' },
        `service ${name}: HAProxy rejected its definition`,
      );
    }
    return true;
  }

  private fail(message: string, problems: ConfigProblem[], t0: number): ApplyOutcome {
    this.stats.failedApplies++;
    this.lastError = message;
    this.log.error({ event: 'apply_failed', error: message, problems, ms: Math.round(performance.now() - t0) }, message);
    return { reloaded: false, error: message };
  }
}
