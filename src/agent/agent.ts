import { EventEmitter } from 'node:events';
import { rename, unlink } from 'node:fs/promises';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { changedServices, describeChanges, listenKey, reloadReason, summarizeChanges, type ReloadReason } from '../model/changes';
import { assignPorts, type DesiredService } from '../model/desired';
import type { ListenSpec } from '../model/service';
import { serverName, type Server } from '../model/server';
import { checkConfig, checkConfigText, attributeMessages, type ConfigProblem } from '../haproxy/config-check';
import { RuntimeClient } from '../haproxy/runtime-client';
import { Supervisor } from '../haproxy/supervisor';
import { runAs, type RunAs } from '../haproxy/run-as';
import { HostResolver } from '../dns/host-resolver';
import { renderConfig, type RenderSettings } from '../render/render';
import { loadTemplates, type CompiledTemplates } from '../render/templates';
import { createServiceConfigSource } from '../service-config';
import type { ServiceConfigSource } from '../service-config/source';
import { siblingTempPath, writeAndSync, writeFileAtomic } from '../util/atomic-write';
import { Quiescence } from '../util/quiescence';
import { RuntimeUpdater, type RuntimeTrigger } from './runtime-updater';
import { ServiceTable, type ServiceStatus } from './service-table';

export interface AgentOptions {
  /** Run HAProxy (the `run` command). Without it the agent only renders (`check`, `render`). */
  manageHAProxy: boolean;
  /** How long startup waits for every watcher's first report before rendering anyway. */
  initialSyncMs?: number;
}

export interface Override {
  state?: 'ready' | 'drain' | 'maint';
  weight?: number;
}

/** What the agent did, for metrics and statsd (listeners must not throw). */
export interface AgentEvents {
  reload: [{ reason: ReloadReason; ok: boolean; seconds: number }];
  runtime: [{ trigger: RuntimeTrigger; commands: number; planSeconds: number; seconds: number }];
  /** From the first unapplied change a source reported to HAProxy running it. */
  propagated: [{ path: 'runtime' | 'reload'; seconds: number }];
  /** What should run, or what runs, may have changed (the dashboard refreshes). */
  changed: [];
}

export interface ApplyOutcome {
  reloaded: boolean;
  error?: string;
}

// A bad service is set aside and the render retried; this bounds the retries of one apply.
const MAX_ATTEMPTS = 5;
const PERSIST_MS = 200;
// A config refused with no line to blame: at most this many changed services are checked one by one.
const MAX_ISOLATE = 16;

/**
 * The loop in the middle: service-config source -> service table (blobs, watchers)
 * -> desired state, then the cheapest safe path to it:
 *  - server membership, weights and addresses go over the runtime API at once
 *    (batched per event-loop tick), with no reload;
 *  - a new, removed or reconfigured service (or proxymgr.yml) needs a reload:
 *    render -> `haproxy -c` -> write -> socket-handoff reload, coalesced by a
 *    bounded quiescence timer and rate limited.
 * Both paths run one at a time, in order.
 */
export class Agent {
  readonly services: ServiceTable;
  readonly supervisor?: Supervisor;
  readonly client?: RuntimeClient;
  private readonly runtime?: RuntimeUpdater;
  private readonly resolver: HostResolver;
  private source?: ServiceConfigSource;
  private templates: CompiledTemplates;
  private runAs?: RunAs;
  private readonly reloadTimer: Quiescence;
  /** What HAProxy runs: listen sections as of the last reload, servers as of the last runtime update. */
  private running: DesiredService[] = [];
  private runningText?: string;
  /** Listen sections, settings and templates as of the last reload: a difference needs a reload. */
  private runningShape?: string;
  /** Services the runtime API could not update, with why; the next reload includes them. */
  private readonly forced = new Map<string, string>();
  private readonly overrides = new Map<string, Override>();
  private started = false;
  private stopped = false;
  private chain: Promise<unknown> = Promise.resolve();
  private runtimeQueued = false;
  private changeQueued = false;
  /** desired() as of the last change; anything it depends on calls changed() or clears it. */
  private desiredCache?: DesiredService[];
  private persistTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private driftTimer?: NodeJS.Timeout;
  lastError?: string;
  readonly stats = { reloads: 0, failedApplies: 0, runtimeUpdates: 0, runtimeCommands: 0 };
  readonly events = new EventEmitter<AgentEvents>();
  /** The first change not yet sent over the runtime API / not yet reloaded (performance.now()). */
  private runtimePendingSince?: number;
  private reloadPendingSince?: number;

  constructor(
    private config: Config,
    private readonly log: Logger,
    private readonly opts: AgentOptions,
  ) {
    this.templates = loadTemplates(config.haproxy.template_dir);
    this.runAs = runAs(config.haproxy.user, config.haproxy.group);
    this.services = new ServiceTable(log, () => this.changed(), { dnsNameservers: config.dns.nameservers }, config.status.source_grace_ms);
    this.resolver = new HostResolver(log, () => this.changed());
    this.reloadTimer = new Quiescence(
      {
        quietMs: config.reload.quiet_ms,
        maxWaitMs: config.reload.max_wait_ms,
        minIntervalMs: config.reload.min_interval_ms,
        jitterMs: config.reload.jitter_ms,
      },
      () => this.enqueue(() => this.reload()).then(() => undefined),
      undefined,
      (err) => this.log.error({ event: 'apply_failed', error: (err as Error).message }, 'reload failed; will retry on the next change'),
    );
    if (opts.manageHAProxy) {
      const h = config.haproxy;
      this.client = new RuntimeClient(h.socket_path, config.runtime.timeout_ms);
      this.runtime = new RuntimeUpdater(this.client, log, () => this.config.runtime.drain_ms);
      this.supervisor = new Supervisor({
        binary: h.path,
        configPath: h.config_path,
        socketPath: h.socket_path,
        readyTimeoutMs: h.ready_timeout_ms,
        stopTimeoutMs: h.stop_timeout_ms,
        log: log.child({ component: 'haproxy' }),
      });
      // A restarted HAProxy runs the config file, which holds every current server; re-check states.
      this.supervisor.on('restarted', () => this.queueRuntime());
    }
  }

  /** Loads every service, waits for the watchers' first answers, then renders and (for `run`) starts HAProxy. */
  async start(): Promise<ApplyOutcome> {
    if (this.opts.manageHAProxy) {
      const h = this.config.haproxy;
      for (const p of [h.config_path, h.socket_path, h.state_file]) mkdirSync(dirname(p), { recursive: true });
    }
    this.source = createServiceConfigSource(this.config.service_config, this.config.file);
    await this.source.start(this.services);
    await this.waitSettled(this.opts.initialSyncMs ?? 3000);
    // Ask for every hostname once and wait, so the first render has their servers.
    this.desired();
    await this.resolver.settled();
    this.started = true;
    if (!this.opts.manageHAProxy) return { reloaded: false };
    const outcome = await this.enqueue(() => this.reload());
    this.armDrift();
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.reloadTimer.close();
    clearTimeout(this.retryTimer);
    clearTimeout(this.driftTimer);
    clearTimeout(this.persistTimer);
    await this.source?.stop();
    await this.services.stopAll();
    await this.chain.catch(() => undefined);
    await this.supervisor?.stop();
  }

  /** SIGHUP: re-read proxymgr.yml. A bad file is reported and the running setup kept. */
  async reconfigure(config: Config): Promise<void> {
    const before = this.config;
    this.templates = loadTemplates(config.haproxy.template_dir);
    this.runAs = runAs(config.haproxy.user, config.haproxy.group);
    this.config = config;
    this.services.defaults = { dnsNameservers: config.dns.nameservers };
    this.services.sourceGraceMs = config.status.source_grace_ms;
    if (JSON.stringify(before.service_config) !== JSON.stringify(config.service_config)) {
      await this.source?.stop();
      this.services.markAllStale();
      this.source = createServiceConfigSource(config.service_config, config.file);
      await this.source.start(this.services);
      this.services.dropStale();
    }
    this.log.info({ event: 'config_reloaded', file: config.file }, 'configuration re-read');
    this.changed();
  }

  /** The haproxy.cfg the current state renders to (what `render` prints). */
  render(): string {
    return renderConfig(this.templates, this.renderSettings(), this.desired());
  }

  statuses(): ServiceStatus[] {
    return this.services.statuses();
  }

  get configuration(): Config {
    return this.config;
  }

  /** Problems of the agent as a whole (not of one service): they make /status bad for every view. */
  problems(now = Date.now()): string[] {
    const out: string[] = [];
    if (this.lastError) out.push(this.lastError);
    if (this.started && this.supervisor && !this.supervisor.running) out.push('HAProxy is not running');
    const p = this.source?.problem?.();
    if (p && now - p.since >= this.config.status.source_grace_ms) out.push(`${p.message} (since ${new Date(p.since).toISOString()})`);
    return out;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Something may have changed: servers go out on the next tick; a shape change arms the reload timer. */
  private changed(): void {
    this.desiredCache = undefined;
    this.events.emit('changed');
    if (!this.started || this.stopped || !this.opts.manageHAProxy) return;
    this.runtimePendingSince ??= performance.now();
    if (this.changeQueued) return;
    this.changeQueued = true;
    // Once per event-loop tick, however many watchers reported in it: with thousands of
    // services these checks cost milliseconds, and a burst brings thousands of reports.
    setImmediate(() => {
      this.changeQueued = false;
      if (this.stopped) return;
      this.queueRuntime();
      this.checkShape();
    });
  }

  /** Arms the reload timer when what runs differs in anything the runtime API cannot change. */
  private checkShape(): void {
    if (this.runningShape === undefined) return;
    if (this.shapeOf(this.desired()) !== this.runningShape) this.triggerReload();
    else if (this.lastError && this.forced.size === 0) {
      // What failed to apply is no longer wanted (a bad setting reverted): what runs is what should run.
      this.log.info({ event: 'error_cleared', error: this.lastError }, 'desired state matches what HAProxy runs again; previous apply error cleared');
      this.lastError = undefined;
    }
  }

  private triggerReload(): void {
    this.reloadPendingSince ??= performance.now();
    this.reloadTimer.trigger();
  }

  private queueRuntime(trigger: RuntimeTrigger = 'change'): void {
    if (this.runtimeQueued || this.stopped || !this.config.runtime.enabled) return;
    this.runtimeQueued = true;
    // setImmediate: every watcher report of this tick goes out in one batch.
    setImmediate(() => {
      this.runtimeQueued = false;
      void this.enqueue(() => this.runtimeUpdate(trigger));
    });
  }

  private armDrift(): void {
    const every = this.config.runtime.drift_interval_ms;
    if (!every || this.stopped) return;
    this.driftTimer = setTimeout(() => {
      void this.enqueue(() => this.runtimeUpdate('drift')).finally(() => this.armDrift());
    }, every);
    this.driftTimer.unref();
  }

  private async waitSettled(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.services.settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private renderSettings(): RenderSettings {
    const h = this.config.haproxy;
    return {
      runAs: this.runAs,
      socketPath: h.socket_path,
      stateFile: h.state_file,
      bindAddress: h.bind_address,
      hardStopAfter: h.hard_stop_after,
      global: h.global,
      defaults: h.defaults,
    };
  }

  /** Everything a reload would change, and nothing a runtime update can. */
  private shapeOf(services: readonly DesiredService[]): string {
    const servers = !this.config.runtime.enabled;
    return JSON.stringify([this.renderSettings(), this.templates.sources, services.map((s) => [s.name, listenKey(s.listen), servers ? s.servers : 0])]);
  }

  /** The services as they should run: definitions, port assignment, hostnames resolved. */
  private desired(): DesiredService[] {
    this.desiredCache ??= this.computeDesired();
    return this.desiredCache;
  }

  private computeDesired(): DesiredService[] {
    const runningListen = new Map<string, ListenSpec>(this.running.map((s) => [s.name, s.listen]));
    const runningPorts = new Map(this.running.map((s) => [s.name, s.listen.port]));
    const { services, conflicts } = assignPorts(this.services.candidates(runningListen), runningPorts);
    for (const s of services) {
      const e = this.services.get(s.name);
      if (e) e.conflict = undefined;
    }
    for (const c of conflicts) {
      const e = this.services.get(c.name);
      const message =
        c.reason === 'two-defaults'
          ? `port ${c.port} is shared by mode http services and ${c.holder} is already its default (a service without match); give one of them a match`
          : `port ${c.port} is already used by service ${c.holder} (to share a port, both need mode: http)`;
      if (e && e.conflict !== message) this.log.error({ event: 'port_conflict', service: c.name, port: c.port, holder: c.holder }, `service ${c.name}: ${message}`);
      if (e) e.conflict = message;
    }
    return services.map((s) => {
      const resolved = this.resolver.resolve(s.servers);
      // Untouched lists keep their identity, so the runtime path can skip comparing them.
      return { ...s, servers: (this.overrides.size ? resolved.map((srv) => this.withOverride(s.name, srv)) : resolved) as Server[] };
    });
  }

  private withOverride(service: string, server: Server): Server {
    if (this.overrides.size === 0) return server;
    const o = this.overrides.get(`${service}/${serverName(server)}`);
    if (!o) return server;
    return { ...server, ...(o.weight !== undefined && { weight: o.weight }), ...(o.state && o.state !== 'ready' && { admin: o.state }) };
  }

  /**
   * An operator's state or weight for one server (HTTP API). It goes out over the
   * runtime API and stays in force across reloads until cleared (`undefined`).
   * Returns false when no such service or server runs.
   */
  setOverride(service: string, server: string, override: Override | undefined): boolean {
    const svc = this.desired().find((s) => s.name === service);
    if (!svc || !svc.servers.some((s) => serverName(s) === server)) return false;
    const key = `${service}/${server}`;
    const merged = override && { ...this.overrides.get(key), ...override };
    // `ready` is the natural state: choosing it clears the state override.
    if (merged?.state === 'ready') delete merged.state;
    if (merged && merged.weight === undefined) delete merged.weight;
    if (merged && (merged.state !== undefined || merged.weight !== undefined)) this.overrides.set(key, merged);
    else this.overrides.delete(key);
    this.log.info({ event: 'override', service, server, override: merged ?? null }, `operator override for ${key}`);
    this.changed();
    return true;
  }

  overrideOf(service: string, server: string): Override | undefined {
    return this.overrides.get(`${service}/${server}`);
  }

  /** What HAProxy should run now, per service (for the API). */
  desiredServices(): DesiredService[] {
    return this.desired();
  }

  /** The runtime path: bring servers of services whose listen section is unchanged in line, without a reload. */
  private async runtimeUpdate(trigger: RuntimeTrigger): Promise<void> {
    if (this.stopped || !this.runtime || !this.supervisor?.running || this.runningText === undefined) return;
    const desired = this.desired();
    const runningKeys = new Map(this.running.map((s) => [s.name, listenKey(s.listen)]));
    const eligible = desired.filter((s) => runningKeys.get(s.name) === listenKey(s.listen) && !this.forced.has(s.name));
    const runningServers = new Map(this.running.map((s) => [s.name, s.servers]));
    // The same array (desired() is cached) is the same list; only others need comparing.
    const changedServers = (s: DesiredService) => {
      const r = runningServers.get(s.name);
      return r !== s.servers && JSON.stringify(r) !== JSON.stringify(s.servers);
    };
    const candidates = trigger === 'change' ? eligible.filter(changedServers) : eligible;
    // HAProxy cannot make a running server a backup (or not) at runtime: that service reloads.
    const dirty = candidates.filter((s) => {
      const before = new Map((runningServers.get(s.name) ?? []).map((x) => [serverName(x), x.backup === true]));
      const flipped = s.servers.filter((x) => before.has(serverName(x)) && before.get(serverName(x)) !== (x.backup === true)).map((x) => serverName(x));
      if (flipped.length === 0) return true;
      this.forced.set(s.name, `backup flag changed for ${flipped.join(', ')} (not changeable at runtime)`);
      this.triggerReload();
      return false;
    });
    // Changes reported from here on are measured from their own arrival.
    const pendingSince = this.runtimePendingSince;
    this.runtimePendingSince = undefined;
    const t0 = performance.now();
    let outcome;
    try {
      outcome = await this.runtime.update(dirty, trigger);
    } catch (err) {
      // The admin socket is unreachable (HAProxy restarting?): the drift pass or the restart hook retries.
      this.log.warn({ event: 'runtime_unavailable', error: (err as Error).message }, 'runtime API unavailable; will retry');
      this.scheduleRetry(1000);
      return;
    }
    this.stats.runtimeUpdates++;
    this.stats.runtimeCommands += outcome.commands;
    const now = performance.now();
    this.events.emit('runtime', { trigger, commands: outcome.commands, planSeconds: outcome.planMs / 1000, seconds: (now - t0) / 1000 });
    if (outcome.commands > 0 && outcome.applied.length && pendingSince !== undefined && trigger === 'change') {
      this.events.emit('propagated', { path: 'runtime', seconds: (now - pendingSince) / 1000 });
    }
    if (outcome.commands > 0) this.events.emit('changed');
    const applied = new Map(desired.filter((s) => outcome.applied.includes(s.name)).map((s) => [s.name, s.servers]));
    this.running = this.running.map((s) => (applied.has(s.name) ? { ...s, servers: applied.get(s.name)! } : s));
    for (const r of outcome.needReload) this.forced.set(r.service, r.reason);
    if (outcome.needReload.length) this.triggerReload();
    if (outcome.retryInMs !== undefined) this.scheduleRetry(outcome.retryInMs);
    if (applied.size) this.schedulePersist();
  }

  /**
   * Keeps the file on disk equal to what runs, so that a crash restart or a reload
   * reproduces it. Batched (at most one render per PERSIST_MS): at 5,000 services the
   * render takes ~200 ms, too much for every runtime update. A crash restart in between
   * is no harm: the restart hook compares HAProxy with the desired state and repairs it.
   */
  private schedulePersist(): void {
    if (this.persistTimer || this.stopped) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.enqueue(() => this.persist()).catch((err: Error) =>
        this.log.warn({ event: 'persist_failed', error: err.message }, 'could not rewrite the HAProxy config file; will retry on the next change'),
      );
    }, PERSIST_MS);
  }

  private async persist(): Promise<void> {
    if (this.stopped || this.runningText === undefined) return;
    const text = renderConfig(this.templates, this.renderSettings(), this.running);
    if (text === this.runningText) return;
    // No fsync: after a machine crash the agent renders the file anew from its sources.
    await writeFileAtomic(this.config.haproxy.config_path, text, 0o644, false);
    this.runningText = text;
  }

  private scheduleRetry(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.queueRuntime('drain'), ms);
  }

  /** The reload path: render everything, `haproxy -c`, write, hand the sockets to a new HAProxy. */
  private async reload(): Promise<ApplyOutcome> {
    try {
      const since = this.reloadPendingSince;
      this.reloadPendingSince = undefined;
      const outcome = await this.reloadOnce();
      if (outcome.reloaded && since !== undefined) this.events.emit('propagated', { path: 'reload', seconds: (performance.now() - since) / 1000 });
      return outcome;
    } catch (err) {
      // Disk full, permissions, ...: HAProxy keeps running what it has; report and carry on.
      return this.fail(`apply failed: ${(err as Error).message}`, [], performance.now());
    }
  }

  private async reloadOnce(): Promise<ApplyOutcome> {
    if (this.stopped || !this.supervisor) return { reloaded: false };
    const t0 = performance.now();
    const h = this.config.haproxy;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const services = this.desired();
      const shape = this.shapeOf(services);
      if (shape === this.runningShape && this.forced.size === 0 && this.supervisor.running) return { reloaded: false };
      const text = renderConfig(this.templates, this.renderSettings(), services);
      const changes = summarizeChanges(this.running, services);
      const forced = [...this.forced].map(([s, why]) => `${s} (${why})`);
      const kind = reloadReason({ initial: this.runningText === undefined, changes, forced: forced.length > 0, shapeChanged: shape !== this.runningShape });
      const reason =
        this.runningText === undefined
          ? 'initial start'
          : [changedServices(changes).length ? describeChanges(changes) : '', forced.length ? `runtime update failed: ${forced.join(', ')}` : '']
              .filter(Boolean)
              .join('; ') || (shape !== this.runningShape ? 'global settings or templates changed (proxymgr.yml, SIGHUP)' : 'HAProxy not running');

      const candidate = siblingTempPath(h.config_path, 'candidate');
      await writeAndSync(candidate, text);
      const check = await checkConfig(h.path, candidate, text);
      for (const w of check.warnings) this.log.warn({ event: 'haproxy_warning', service: w.service, message: w.message }, 'haproxy -c warning');
      if (!check.ok) {
        await unlink(candidate).catch(() => undefined);
        if (this.blame(check.problems, services, 'haproxy -c')) continue;
        if (await this.isolate(check.problems, services)) continue;
        return this.fail('haproxy -c rejected the configuration; HAProxy keeps running the previous one', check.problems, t0, kind);
      }
      await this.saveServerState();
      await rename(candidate, h.config_path);

      const wasRunning = this.supervisor.running;
      const res = wasRunning ? await this.supervisor.reload() : await this.supervisor.start();
      if (!res.ok) {
        // The new process refused to start (port in use, ...): put the running config back on disk.
        if (this.runningText !== undefined) await writeFileAtomic(h.config_path, this.runningText);
        const { alerts } = attributeMessages(res.output.join('\n'), h.config_path, text);
        if (this.blame(alerts, services, 'HAProxy startup')) continue;
        return this.fail(`HAProxy failed to start with the new configuration: ${res.error}`, alerts.length ? alerts : [{ message: res.error }], t0, kind);
      }
      this.running = services;
      this.desiredCache = undefined;
      this.runningText = text;
      this.runningShape = shape;
      this.forced.clear();
      this.runtime?.reset();
      this.lastError = undefined;
      this.stats.reloads++;
      this.events.emit('reload', { reason: kind, ok: true, seconds: (performance.now() - t0) / 1000 });
      this.events.emit('changed');
      this.log.info(
        {
          event: wasRunning ? 'reload' : 'start',
          reason,
          kind,
          services: changedServices(changes),
          pid: res.pid,
          old_pid: res.oldPid,
          haproxy_ms: Math.round(res.ms),
          ms: Math.round(performance.now() - t0),
        },
        wasRunning ? `reloaded HAProxy: ${reason}` : `started HAProxy: ${reason}`,
      );
      // The state file may have restored a state we no longer want (a server back from maint): check now.
      this.queueRuntime('after-reload');
      return { reloaded: true };
    }
    return this.fail('gave up after setting aside services HAProxy refused', [], t0);
  }

  /**
   * Dumps `show servers state` to the state file the new process loads, so runtime
   * weights, maint and health survive the reload. Server names carry the port, so
   * the stale-port trap (haproxy/haproxy#1412, #2103) cannot hit a renamed server.
   */
  private async saveServerState(): Promise<void> {
    if (!this.client) return;
    if (!this.supervisor?.running) {
      // A first start: an empty state file (version line only) saves HAProxy a warning.
      if (!existsSync(this.config.haproxy.state_file)) await writeFileAtomic(this.config.haproxy.state_file, '1\n', 0o600);
      return;
    }
    try {
      const [reply] = await this.client.batch(['show servers state']);
      if (reply.ok) await writeFileAtomic(this.config.haproxy.state_file, reply.output.endsWith('\n') ? reply.output : `${reply.output}\n`, 0o600);
    } catch (err) {
      this.log.warn({ event: 'state_save_failed', error: (err as Error).message }, 'could not save server state before reload');
    }
  }

  /**
   * Sets aside the services HAProxy's messages point at, if each of them is new or
   * changed (an unchanged one cannot be the cause). Returns true when a retry makes sense.
   */
  /**
   * HAProxy refused the config with an alert that names no line (some keyword errors in
   * 2.6 do): checks each new or changed service alone on top of what runs, and sets
   * aside those HAProxy refuses. Bounded, since each check costs a `haproxy -c`.
   * Returns true when a retry makes sense.
   */
  private async isolate(problems: ConfigProblem[], services: DesiredService[]): Promise<boolean> {
    const running = new Map(this.running.map((s) => [s.name, s]));
    const changed = services.filter((s) => {
      const r = running.get(s.name);
      return !r || listenKey(r.listen) !== listenKey(s.listen);
    });
    if (changed.length === 0 || changed.length > MAX_ISOLATE) return false;
    // What runs now, with the desired servers: the base each suspect is tried on alone.
    const base = services.filter((s) => running.has(s.name)).map((s) => ({ ...s, listen: running.get(s.name)!.listen }));
    const h = this.config.haproxy;
    const guilty: DesiredService[] = [];
    for (const suspect of changed) {
      const text = renderConfig(this.templates, this.renderSettings(), [...base.filter((s) => s.name !== suspect.name), suspect]);
      if (!(await checkConfigText(h.path, h.config_path, text, 'isolate')).ok) guilty.push(suspect);
    }
    if (guilty.length === 0) return false;
    const message = problems.map((p) => p.message).join(' | ');
    return this.blame(guilty.map((s) => ({ service: s.name, message })), services, 'haproxy -c (each change checked alone)');
  }

  private blame(problems: ConfigProblem[], services: DesiredService[], stage: string): boolean {
    this.desiredCache = undefined;
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

  private fail(message: string, problems: ConfigProblem[], t0: number, reason?: ReloadReason): ApplyOutcome {
    this.stats.failedApplies++;
    if (reason) this.events.emit('reload', { reason, ok: false, seconds: (performance.now() - t0) / 1000 });
    this.lastError = message;
    this.log.error({ event: 'apply_failed', error: message, problems, ms: Math.round(performance.now() - t0) }, message);
    return { reloaded: false, error: message };
  }
}
