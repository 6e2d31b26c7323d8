import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import type { DesiredService } from '../model/desired';
import { RuntimeClient } from '../haproxy/runtime-client';
import { Supervisor } from '../haproxy/supervisor';
import { HostResolver } from '../dns/host-resolver';
import { IncrementalRenderer } from '../render/incremental';
import { createServiceConfigSource } from '../service-config';
import type { ServiceConfigSource } from '../service-config/source';
import { Quiescence } from '../util/quiescence';
import { ApplyState } from './apply-state';
import { CertSwap } from './cert-swap';
import { HaproxyHealth } from './haproxy-health';
import { DesiredState, type Override } from './desired-state';
import { OperatorOverrides } from './operator-overrides';
import { Reloader } from './reloader';
import { applySettings, replaceSource, settleConfig, sourceChanged } from './settings-change';
import { RuntimePath } from './runtime-path';
import { StickyOffline } from './sticky-offline';
import { ServiceTable, type ServiceStatus } from './service-table';
import type { AgentEvents, AgentOptions, AgentStats, AgentView, ApplyOutcome } from './view';

/**
 * The loop: the service table reports which service changed; once per event-loop tick
 * the desired state recomputes those services, the apply state sorts each onto its
 * path (runtime API or reload, decided by the pure plan), and the runtime updater or
 * the reloader acts. Both paths run one at a time, in order, on one chain.
 */
export class Agent implements AgentView {
  readonly services: ServiceTable;
  readonly desired: DesiredState;
  readonly supervisor?: Supervisor;
  readonly client?: RuntimeClient;
  private readonly apply: ApplyState;
  private readonly operator: OperatorOverrides;
  private readonly runtimePath?: RuntimePath;
  private readonly reloader?: Reloader;
  private readonly health?: HaproxyHealth;
  private readonly sticky?: StickyOffline;
  private readonly certs?: CertSwap;
  private readonly resolver: HostResolver;
  private readonly reloadTimer: Quiescence;
  private renderer: IncrementalRenderer;
  private source?: ServiceConfigSource;
  private started = false;
  private stopped = false;
  private chain: Promise<unknown> = Promise.resolve();
  private tickQueued = false;
  lastError?: string;
  /** Settings changed in proxymgr.yml that only a restart applies (named in /status). */
  private restartRequired: string[] = [];
  readonly stats: AgentStats = { reloads: 0, failedApplies: 0, runtimeUpdates: 0, runtimeCommands: 0 };
  readonly events = new EventEmitter<AgentEvents>();
  /** The first change not yet reloaded (performance.now()). */
  private reloadPendingSince?: number;

  constructor(
    private config: Config,
    private readonly log: Logger,
    private readonly opts: AgentOptions,
  ) {
    this.renderer = IncrementalRenderer.forConfig(config.haproxy);
    this.services = new ServiceTable(log, (name) => this.changed(name), { dnsNameservers: config.dns.nameservers, zk: config.zk, etcd: config.etcdDir }, config.status.source_grace_ms);
    this.resolver = new HostResolver(log, () => {
      this.desired.markHostnameUsers();
      this.schedule();
    });
    this.desired = new DesiredState({ entry: (n) => this.services.get(n), resolve: (s) => this.resolver.resolve(s), running: (n) => this.apply.running.get(n) }, log);
    this.apply = new ApplyState((n) => this.desired.get(n), () => this.config.runtime.enabled);
    this.operator = new OperatorOverrides(() => this.config.haproxy.overrides_file, this.desired, log);
    const r = config.reload;
    this.reloadTimer = new Quiescence(
      { quietMs: r.quiet_ms, maxWaitMs: r.max_wait_ms, minIntervalMs: r.min_interval_ms, jitterMs: r.jitter_ms },
      () => this.enqueue(() => this.reload()).then(() => undefined),
      undefined,
      (err) => this.log.error({ event: 'apply_failed', error: (err as Error).message }, 'reload failed; will retry on the next change'),
    );
    if (opts.manageHAProxy) {
      const h = config.haproxy;
      this.client = new RuntimeClient(h.socket_path, config.runtime.timeout_ms);
      const [socketPath, readyTimeoutMs, stopTimeoutMs] = [h.socket_path, h.ready_timeout_ms, h.stop_timeout_ms];
      this.supervisor = new Supervisor({ binary: h.path, configPath: h.config_path, socketPath, readyTimeoutMs, stopTimeoutMs, log: log.child({ component: 'haproxy' }) });
      this.runtimePath = new RuntimePath({
        apply: this.apply,
        client: this.client,
        log,
        events: this.events,
        stats: this.stats,
        config: () => this.config,
        enqueue: (fn) => this.enqueue(fn),
        absorb: () => this.absorb(),
        all: () => this.desired.all(),
        render: (services) => this.renderer.render(services),
        haproxyRunning: () => this.supervisor?.running ?? false,
        needReload: () => this.triggerReload(),
      });
      this.reloader = new Reloader(() => ({ binary: this.config.haproxy.path, configPath: this.config.haproxy.config_path, stateFile: this.config.haproxy.state_file }), this.supervisor, this.client, log);
      // A restarted HAProxy runs the config file, which holds every current server; re-check states.
      this.supervisor.on('restarted', () => this.runtimePath?.queue('after-reload'));
      // A hold is an override like an operator's: saved first, then out over the runtime API.
      const sticky = { desired: this.desired, entry: (n: string) => this.services.get(n), runs: (n: string) => this.apply.running.has(n) };
      this.sticky = new StickyOffline({ client: this.client, log, config: () => this.config, ...sticky, set: (service, server, o) => this.setOverride(service, server, o) });
      // New content under a certificate name HAProxy knows goes out without a reload; a new name reloads.
      const needReload = (service: string, reason: string) => {
        this.apply.refuse(service, reason);
        this.triggerReload();
      };
      this.certs = new CertSwap({ client: this.client, log, events: this.events, enqueue: (fn) => this.enqueue(fn), needReload });
      this.health = HaproxyHealth.forAgent({ client: this.client, supervisor: this.supervisor, log, config: () => this.config, shouldRun: () => this.started && !this.stopped, afterRestart: () => this.runtimePath?.queue('after-reload') });
    }
  }

  /** Loads every service, waits for the watchers' first answers, then renders and (for `run`) starts HAProxy. */
  async start(): Promise<ApplyOutcome> {
    const h = this.config.haproxy;
    if (this.opts.manageHAProxy) for (const p of [h.config_path, h.socket_path, h.state_file]) mkdirSync(dirname(p), { recursive: true });
    this.source = createServiceConfigSource(this.config, this.log);
    await this.source.start(this.services);
    const deadline = Date.now() + (this.opts.initialSyncMs ?? 3000);
    while (!this.services.settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.opts.manageHAProxy) this.operator.restore();
    // Ask for every hostname once and wait, so the first render has their servers.
    this.absorb();
    await this.resolver.settled();
    this.absorb();
    if (this.opts.manageHAProxy) this.operator.reportUnmatched();
    this.started = true;
    if (!this.opts.manageHAProxy) return { reloaded: false };
    const outcome = await this.enqueue(() => this.reload());
    this.runtimePath?.armDrift();
    this.sticky?.start();
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reloadTimer.close();
    this.runtimePath?.stop();
    this.health?.stop();
    this.sticky?.stop();
    this.certs?.stop();
    await this.source?.stop();
    await this.services.stopAll();
    await this.chain.catch(() => undefined);
    await this.supervisor?.stop();
  }

  /** SIGHUP: re-read proxymgr.yml. A bad file is reported and the running setup kept. */
  async reconfigure(next: Config): Promise<void> {
    const before = this.config;
    const { config, restartRequired } = settleConfig(before, next);
    this.renderer = IncrementalRenderer.forConfig(config.haproxy);
    this.config = config;
    this.restartRequired = restartRequired;
    applySettings(before, config, { reloadTimer: this.reloadTimer, client: this.client, supervisor: this.supervisor, runtimePath: this.runtimePath, services: this.services });
    for (const why of restartRequired) this.log.warn({ event: 'config_restart_required', file: config.file, reason: why }, `proxymgr.yml: ${why}`);
    if (before.haproxy.overrides_file !== config.haproxy.overrides_file) this.operator.moved();
    if (sourceChanged(before, config)) this.source = await replaceSource(this.source, this.services, config, this.log);
    this.log.info({ event: 'config_reloaded', file: config.file }, 'configuration re-read');
    this.reclassifyAll();
    this.schedule();
  }

  /** The haproxy.cfg the current state renders to (what `render` prints). */
  render(): string {
    this.absorb();
    return this.renderer.render(this.desired.all());
  }

  statuses(now = Date.now()): ServiceStatus[] {
    return this.services.statuses(now, (name) => this.problemsOf(name));
  }
  status(name: string, now = Date.now()): ServiceStatus | undefined {
    return this.services.status(name, now, (n) => this.problemsOf(n));
  }
  private problemsOf(name: string): string[] {
    return [...this.desired.problemsOf(name), ...(this.certs?.problemsOf(name) ?? [])];
  }
  get configuration(): Config {
    return this.config;
  }
  problems(now = Date.now()): string[] {
    const out: string[] = [];
    if (this.lastError) out.push(this.lastError);
    out.push(...this.restartRequired.map((why) => `proxymgr.yml: ${why}`));
    if (this.started && this.supervisor && !this.supervisor.running) out.push('HAProxy is not running');
    out.push(...(this.health?.problems() ?? []));
    const p = this.source?.problem?.();
    if (p && now - p.since >= this.config.status.source_grace_ms) out.push(`${p.message} (since ${new Date(p.since).toISOString()})`);
    return out;
  }

  desiredServices(): readonly DesiredService[] {
    return this.desired.all();
  }
  desiredService(name: string): DesiredService | undefined {
    return this.desired.get(name);
  }

  /** The first sync is done and HAProxy was given its configuration. */
  ready(): boolean {
    return this.apply.text !== undefined;
  }

  haproxy(): { running: boolean; restarts: number; unresponsive: boolean } {
    return { running: this.supervisor?.running ?? false, restarts: this.supervisor?.stats.crashes ?? 0, unresponsive: this.health?.unresponsive ?? false };
  }

  overrideOf(service: string, server: string): Override | undefined {
    return this.desired.overrideOf(service, server);
  }

  /** An operator's state or weight: out over the runtime API, in force across reloads until cleared (`undefined`). */
  setOverride(service: string, server: string, override: Override | undefined): boolean {
    if (!this.operator.set(service, server, override).ok) return false;
    this.changed(service);
    return true;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private changed(name: string): void {
    this.desired.markDirty(name);
    this.schedule();
  }

  /** Once per event-loop tick, however many watchers reported in it (a burst brings thousands). */
  private schedule(): void {
    if (this.tickQueued || this.stopped) return;
    this.tickQueued = true;
    setImmediate(() => {
      this.tickQueued = false;
      if (!this.stopped) this.tick();
    });
  }

  /** Recomputes what changed and sorts each changed service onto its path; the names whose desired state changed. */
  private absorb(): string[] {
    const changed = this.desired.refresh();
    this.apply.classify(changed);
    return changed;
  }

  /** Every service sorted anew: after a reload (what runs changed) and a re-read proxymgr.yml. */
  private reclassifyAll(): void {
    this.desired.markAll(this.services.names());
    this.absorb();
    this.apply.classify(new Set([...this.services.names(), ...this.apply.running.keys()]));
  }

  private tick(): void {
    const changed = new Set([...this.desired.takeReported(), ...this.absorb()]);
    if (changed.size) this.events.emit('changed', [...changed]);
    if (!this.started || !this.opts.manageHAProxy || this.apply.text === undefined) return;
    if (this.apply.hasRuntimeWork()) this.runtimePath?.changed();
    // HAProxy being down is the supervisor's to mend; a change while it restarts waits for it.
    if (this.apply.decision(true, this.renderer.key).reload) this.triggerReload();
    else if (this.lastError) {
      // What failed to apply is no longer wanted (a bad setting reverted): what runs is what should run.
      this.log.info({ event: 'error_cleared', error: this.lastError }, 'desired state matches what HAProxy runs again; previous apply error cleared');
      this.lastError = undefined;
    }
  }

  private triggerReload(): void {
    this.reloadPendingSince ??= performance.now();
    this.reloadTimer.trigger();
  }

  /** The reload path, run by the reloader; the plan decides whether one is needed and why. */
  private async reload(): Promise<ApplyOutcome> {
    if (this.stopped || !this.reloader || !this.supervisor) return { reloaded: false };
    const since = this.reloadPendingSince;
    this.reloadPendingSince = undefined;
    const result = await this.reloader.reload({
      templates: this.renderer.templates,
      settings: this.renderer.settings,
      render: (services) => this.renderer.render(services),
      running: this.apply.running,
      runningText: this.apply.text,
      next: () => {
        this.absorb();
        return { services: this.desired.all(), decision: this.apply.decision(this.supervisor!.running, this.renderer.key) };
      },
      reject: (name, listen, message) => {
        this.desired.reject(name, listen, message);
        return this.services.get(name)?.origin;
      },
    });
    if (!result.done) return { reloaded: false };
    if (!result.ok) {
      this.stats.failedApplies++;
      if (result.decision) this.events.emit('reload', { reason: result.decision.kind, ok: false, seconds: result.ms / 1000 });
      this.lastError = result.error;
      return { reloaded: false, error: result.error };
    }
    this.apply.reloaded(result.services, result.text, this.renderer.key);
    this.certs?.sync(result.services);
    this.runtimePath?.reset();
    this.lastError = undefined;
    this.stats.reloads++;
    this.events.emit('reload', { reason: result.decision.kind, ok: true, seconds: result.ms / 1000 });
    if (since !== undefined) this.events.emit('propagated', { path: 'reload', seconds: (performance.now() - since) / 1000 });
    // Ports may now be held by other services, and changes that came in meanwhile were
    // sorted against what ran before: every service is sorted again against what runs now.
    this.reclassifyAll();
    this.tick();
    this.events.emit('changed');
    // The state file may have restored a state we no longer want (a server back from maint): check now.
    this.runtimePath?.queue('after-reload');
    return { reloaded: true };
  }
}
