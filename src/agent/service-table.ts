import type { Logger } from '../log';
import { checkBindCertFiles } from './bind-cert-files';
import type { Server } from '../model/server';
import { parseServiceDefinition, watcherKey, type ServiceDefinition } from '../model/service';
import type { ServiceConfigHandler } from '../service-config/source';
import { WATCHER_SCHEMAS, WATCHER_TYPES } from '../watchers';
import type { Watcher, WatcherDefaults } from '../watchers/watcher';
import type { FileNeed } from '../model/options/feature';
import { checkServiceFiles } from './service-files';

/** A blob that parsed but names files that failed their check: tried again until they pass or the blob changes. */
interface FileWait {
  raw: unknown;
  origin: string;
  baseDir: string;
  files: FileNeed[];
  problems: string;
}

/** Everything the agent knows about one service name. */
export interface ServiceEntry {
  name: string;
  origin: string;
  baseDir: string;
  /** The last valid definition. A bad edit leaves it in force: nothing that serves is lost to a typo. */
  def?: ServiceDefinition;
  /** Problems with the newest blob; empty when it is valid. */
  errors: string[];
  watcher?: Watcher;
  watcherKey?: string;
  servers: Server[];
  serversReported: boolean;
  /** The watcher's source cannot be read; `servers` is the last good list. */
  sourceError?: string;
  /** When the source went bad (epoch ms); it counts as an error only after the grace period. */
  sourceErrorSince?: number;
  /** When the definition or the server list last changed, and the newest problem seen (epoch ms). */
  lastChange?: number;
  lastError?: { message: string; at: number };
  /** Marks entries not seen again after the service-config source was replaced. */
  stale?: boolean;
}

export interface ServiceStatus {
  name: string;
  origin: string;
  port?: number;
  type?: string;
  servers: number;
  ok: boolean;
  /** Errors: bad definition, rejected by HAProxy, port conflict, source down beyond the grace period. */
  problems: string[];
  /** A source problem still within its grace period: servers are kept, not an error yet. */
  warnings: string[];
  /** The watcher's source answers (false while it is down, grace or not). */
  sourceUp: boolean;
  lastChange?: string;
  lastError?: { message: string; at: string };
}

/**
 * The source side: receives blobs from the service-config source, validates them, runs
 * one watcher per service and keeps the last good state of each. Calls `onChange` with
 * the service's name whenever what it should run may have changed. Queries change nothing.
 */
export class ServiceTable implements ServiceConfigHandler {
  private readonly entries = new Map<string, ServiceEntry>();
  private readonly fileWaits = new Map<string, FileWait>();
  private fileTimer?: NodeJS.Timeout;
  /** How often the files of a service refused for them are looked at again (a CA put in place after the blob). */
  public fileRetryMs = 5000;

  constructor(
    private readonly log: Logger,
    private readonly onChange: (name: string) => void,
    /** Read when a watcher starts; a changed value applies to watchers started after it. */
    public defaults: WatcherDefaults = {},
    /** A source may be down this long before its service counts as in error. */
    public sourceGraceMs = 30_000,
  ) {}

  upsert(name: string, raw: unknown, origin: string, baseDir: string): void {
    const parsed = checkBindCertFiles(parseServiceDefinition(name, raw, WATCHER_SCHEMAS));
    this.fileWaits.delete(name);
    if (!parsed.ok) return this.invalid(name, origin, parsed.errors);
    // The files it names (a CA, a client certificate) are checked here, at the door: the model cannot read them.
    const fileProblems = checkServiceFiles(parsed.service.files);
    if (fileProblems.length) {
      this.waitForFiles(name, { raw, origin, baseDir, files: parsed.service.files ?? [], problems: fileProblems.join('\n') });
      return this.invalid(name, origin, fileProblems);
    }
    const entry = this.entry(name, origin, baseDir);
    entry.errors = [];
    if (JSON.stringify(entry.def) !== JSON.stringify(parsed.service)) entry.lastChange = Date.now();
    entry.def = parsed.service;
    const key = watcherKey(parsed.service.watcher, baseDir);
    if (key !== entry.watcherKey) this.startWatcher(entry, parsed.service, key);
    this.log.info({ event: 'service_defined', service: name, origin, port: parsed.service.port, type: parsed.service.watcher.type }, 'service definition loaded');
    this.onChange(name);
  }

  invalid(name: string, origin: string, problems: string[]): void {
    const entry = this.entry(name, origin, undefined);
    entry.errors = problems.map((p) => `${origin}: ${p}`);
    entry.lastError = { message: entry.errors.join('; '), at: Date.now() };
    this.log.error(
      { event: 'service_invalid', service: name, origin, errors: problems, keeping: entry.def ? 'last valid definition' : 'nothing (service not started)' },
      `service ${name}: invalid definition`,
    );
    this.onChange(name);
  }

  remove(name: string): void {
    this.fileWaits.delete(name);
    const entry = this.entries.get(name);
    if (!entry) return;
    this.entries.delete(name);
    void entry.watcher?.stop();
    this.log.info({ event: 'service_removed', service: name, origin: entry.origin }, 'service removed');
    this.onChange(name);
  }

  /** Marks every entry stale; `dropStale` then removes those no source re-announced. */
  markAllStale(): void {
    for (const e of this.entries.values()) e.stale = true;
  }

  dropStale(): void {
    for (const e of [...this.entries.values()]) if (e.stale) this.remove(e.name);
  }

  /** A source's complete listing: the entries of the source it replaced that it did not name go. */
  listed(): void {
    this.dropStale();
  }

  /** Starts this type's watchers again: the agent-wide defaults they read at start changed (SIGHUP). Servers stay until they report. */
  restartWatchers(type: string): void {
    for (const e of this.entries.values()) if (e.def?.watcher.type === type && e.watcherKey) this.startWatcher(e, e.def, e.watcherKey);
  }

  async stopAll(): Promise<void> {
    clearInterval(this.fileTimer);
    this.fileTimer = undefined;
    this.fileWaits.clear();
    await Promise.all([...this.entries.values()].map((e) => e.watcher?.stop()));
    for (const e of this.entries.values()) e.watcher = undefined;
  }

  get(name: string): ServiceEntry | undefined {
    return this.entries.get(name);
  }

  /** True once every defined service's watcher has reported servers or an error. */
  settled(): boolean {
    return [...this.entries.values()].every((e) => !e.def || e.serversReported || e.sourceError !== undefined);
  }

  names(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Names of the services with a valid definition. */
  defined(): string[] {
    return [...this.entries.values()].filter((e) => e.def).map((e) => e.name);
  }

  /** Each service's status; `problemsOf` adds what the desired state knows (port conflict, refused by HAProxy). */
  statuses(now = Date.now(), problemsOf: (name: string) => string[] = () => []): ServiceStatus[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((e) => this.statusOf(e, now, problemsOf));
  }

  status(name: string, now = Date.now(), problemsOf: (name: string) => string[] = () => []): ServiceStatus | undefined {
    const e = this.entries.get(name);
    return e && this.statusOf(e, now, problemsOf);
  }

  private statusOf(e: ServiceEntry, now: number, problemsOf: (name: string) => string[]): ServiceStatus {
    const problems = [...e.errors];
    const warnings: string[] = [];
    problems.push(...problemsOf(e.name));
    if (e.sourceError !== undefined) {
      const since = e.sourceErrorSince ?? now;
      const late = now - since >= this.sourceGraceMs;
      (late ? problems : warnings).push(`${e.sourceError} (since ${new Date(since).toISOString()})`);
    }
    return {
      name: e.name,
      origin: e.origin,
      port: e.def?.port,
      type: e.def?.watcher.type,
      servers: e.servers.length,
      ok: problems.length === 0,
      problems,
      warnings,
      sourceUp: e.sourceError === undefined,
      ...(e.lastChange !== undefined && { lastChange: new Date(e.lastChange).toISOString() }),
      ...(e.lastError && { lastError: { message: e.lastError.message, at: new Date(e.lastError.at).toISOString() } }),
    };
  }

  /**
   * A file that is missing now may be put in place later (the blob came first): the blob
   * is accepted once its files pass, with no edit needed. Only a changed outcome is acted
   * on, so a file that stays missing is not logged again every round.
   */
  private waitForFiles(name: string, wait: FileWait): void {
    this.fileWaits.set(name, wait);
    if (this.fileTimer) return;
    this.fileTimer = setInterval(() => {
      for (const [n, w] of [...this.fileWaits]) {
        if (checkServiceFiles(w.files).join('\n') !== w.problems) this.upsert(n, w.raw, w.origin, w.baseDir);
      }
      if (this.fileWaits.size === 0) {
        clearInterval(this.fileTimer);
        this.fileTimer = undefined;
      }
    }, this.fileRetryMs);
    this.fileTimer.unref();
  }

  /** Records a source problem; the first one starts the grace period. */
  private sourceFailed(entry: ServiceEntry, message: string): void {
    if (entry.sourceError === undefined) entry.sourceErrorSince = Date.now();
    entry.sourceError = message;
    entry.lastError = { message, at: Date.now() };
  }

  /**
   * Clears a source problem. When the source itself came back (`log`), says so once,
   * with how long it was bad; a watcher replaced by a new one just starts clean.
   */
  private sourceRecovered(entry: ServiceEntry, log = true): void {
    if (entry.sourceError === undefined) return;
    if (log) {
      const badMs = Date.now() - (entry.sourceErrorSince ?? Date.now());
      this.log.info(
        { event: 'source_recovered', service: entry.name, bad_ms: badMs, error: entry.sourceError, servers: entry.servers.length },
        `source recovered after ${badMs} ms`,
      );
    }
    entry.sourceError = undefined;
    entry.sourceErrorSince = undefined;
  }

  private entry(name: string, origin: string, baseDir: string | undefined): ServiceEntry {
    let e = this.entries.get(name);
    if (!e) {
      e = { name, origin, baseDir: baseDir ?? '.', errors: [], servers: [], serversReported: false };
      this.entries.set(name, e);
    }
    e.origin = origin;
    if (baseDir !== undefined) e.baseDir = baseDir;
    e.stale = false;
    return e;
  }

  private startWatcher(entry: ServiceEntry, def: ServiceDefinition, key: string): void {
    void entry.watcher?.stop();
    entry.watcherKey = key;
    this.sourceRecovered(entry, false);
    // The old servers stay until the new watcher reports: swapping sources must not empty a backend.
    const type = WATCHER_TYPES[def.watcher.type];
    const watcher: Watcher = type.create(def.watcher.options, {
      service: def.name,
      baseDir: entry.baseDir,
      defaults: this.defaults,
      log: this.log.child({ service: def.name, watcher: def.watcher.type }),
      onUpdate: (servers) => {
        if (entry.watcher !== watcher || this.entries.get(entry.name) !== entry) return;
        const allowEmpty = entry.def?.allowEmpty ?? false;
        if (servers.length === 0 && entry.servers.length > 0 && !allowEmpty) {
          this.sourceFailed(entry, `source reported no servers; keeping the previous ${entry.servers.length} (set allow_empty to accept an empty list)`);
          entry.serversReported = true;
          this.log.warn({ event: 'source_empty', service: entry.name, kept: entry.servers.length }, entry.sourceError);
          return this.onChange(entry.name);
        }
        if (JSON.stringify(entry.servers) !== JSON.stringify(servers)) entry.lastChange = Date.now();
        entry.servers = servers;
        entry.serversReported = true;
        this.sourceRecovered(entry);
        this.log.debug({ event: 'servers', service: entry.name, count: servers.length }, 'servers updated');
        this.onChange(entry.name);
      },
      onError: (message) => {
        if (entry.watcher !== watcher) return;
        this.sourceFailed(entry, message);
        this.log.warn({ event: 'source_error', service: entry.name, error: message, kept: entry.servers.length }, 'watcher error; keeping the last servers');
        this.onChange(entry.name);
      },
    });
    entry.watcher = watcher;
    watcher.start();
  }
}
