import { EventEmitter } from 'node:events';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { historyPoint, update, type Figures } from './figures';
import { HistoryStore, HOUR_STEP_MS } from './history';
import { parseStatRows, type StatRow } from './stat-rows';

export type { Figures } from './figures';

/** More services than this changed at once: one reading of every backend instead of one each. */
const REFRESH_EACH_MAX = 20;
/** More busy backends than this: one reading of every server instead of one per backend. */
const READ_EACH_MAX = 100;
/** Every this many history readings, every server is read whatever was busy (30: 5 minutes). */
const FULL_EVERY = 30;
/** Past a step boundary: `floor(at / step)` then names the step this reading belongs to. */
const STEP_OFFSET_MS = 1000;

/**
 * Reads HAProxy's counters for the dashboard at a cost that fits a sidecar
 * (docs/dashboard.md): every 10 s the backends and the servers of busy ones, for the
 * history rings; while a tab is open, every `intervalMs` the backend rows and the servers
 * of the services a tab has expanded; after an apply, the services it touched.
 */
export class StatsSampler extends EventEmitter<{ live: [services: ReadonlySet<string>]; tick: [at: number] }> {
  readonly services = new Map<string, Figures>();
  /** service -> server -> figures. */
  readonly servers = new Map<string, Map<string, Figures>>();
  readonly serviceHistory = new HistoryStore();
  readonly serverHistory: HistoryStore;
  /** The services whose servers someone looks at (the dashboard sets it). */
  watched: () => Iterable<string> = () => [];
  private chain: Promise<void> = Promise.resolve();
  private liveQueued = false;
  private historyTimer?: NodeJS.Timeout;
  private liveTimer?: NodeJS.Timeout;
  private stopped = false;
  private readings = 0;

  constructor(
    private readonly client: RuntimeClient | undefined,
    readonly intervalMs: number,
    maxServerHistories: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.serverHistory = new HistoryStore(maxServerHistories);
  }

  start(): void {
    void this.enqueue(() => this.readAll());
    this.armHistory();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.historyTimer);
    clearInterval(this.liveTimer);
  }

  /** Live readings on (a tab is connected) or off. */
  setLive(on: boolean): void {
    if (on === (this.liveTimer !== undefined)) return;
    if (!on) {
      clearInterval(this.liveTimer);
      this.liveTimer = undefined;
      return;
    }
    this.liveTimer = setInterval(() => this.live(), this.intervalMs);
    this.liveTimer.unref();
  }

  /** Reads the backends and watched servers now (unless a reading is already waiting). */
  live(): Promise<void> {
    if (this.liveQueued) return this.chain;
    this.liveQueued = true;
    return this.enqueue(async () => {
      this.liveQueued = false;
      await this.readLive();
    });
  }

  /** Reads these services' backend and servers now: what an apply changed shows at once. */
  refresh(names: readonly string[]): Promise<void> {
    if (names.length > REFRESH_EACH_MAX) return this.live();
    return this.enqueue(async () => {
      const changed = new Set<string>();
      for (const name of names) if (await this.readService(name, 6)) changed.add(name);
      if (changed.size) this.emit('live', changed);
    });
  }

  private armHistory(): void {
    if (this.stopped) return;
    const now = this.now();
    this.historyTimer = setTimeout(() => {
      void this.enqueue(() => this.readAll()).finally(() => this.armHistory());
    }, HOUR_STEP_MS - (now % HOUR_STEP_MS) + STEP_OFFSET_MS);
    this.historyTimer.unref();
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    // One reading at a time keeps each entity's counters in order; a failed one is skipped.
    this.chain = this.chain.then(fn).catch(() => undefined);
    return this.chain;
  }

  private async read(command: string): Promise<StatRow[] | undefined> {
    if (!this.client || this.stopped) return undefined;
    // Outside the batch queue: a reading must not wait behind a runtime batch.
    return parseStatRows(await this.client.queryBytes(command));
  }

  /**
   * The history reading: every backend, then the servers of the backends that had
   * traffic or errors since the last one (an idle backend's servers had none), or every
   * server when many were busy and once every few minutes, so that what HAProxy no longer
   * runs is forgotten and idle servers' states stay true.
   */
  private async readAll(): Promise<void> {
    const at = this.now();
    const rows = await this.read('show stat -1 2 -1');
    if (!rows) return;
    const changed = new Set<string>();
    const busy: string[] = [];
    for (const row of rows) {
      const before = this.services.get(row.proxy);
      const idle = before && before.total === row.total && before.errors === row.errors && before.sessions === 0 && row.sessions === 0;
      if (update(this.services, row.proxy, row, at)) changed.add(row.proxy);
      this.serviceHistory.keep(row.proxy);
      if (idle) this.settle(row.proxy, changed);
      else busy.push(row.proxy);
    }
    this.forgetServices(at, changed);
    const everything = this.readings++ % FULL_EVERY === 0 || busy.length > READ_EACH_MAX;
    if (everything) await this.readAllServers(changed);
    else for (const name of busy) if (await this.readService(name, 4)) changed.add(name);
    this.record(at);
    if (changed.size) this.emit('live', changed);
    this.emit('tick', at);
  }

  /** Every server at once (one `show stat`, 5 MB at 20,000 servers). */
  private async readAllServers(changed: Set<string>): Promise<void> {
    const at = this.now();
    const rows = await this.read('show stat -1 4 -1');
    if (!rows) return;
    for (const row of rows) if (update(this.serversOf(row.proxy), row.name, row, at)) changed.add(row.proxy);
    for (const service of [...this.servers.keys()]) this.forgetServers(service, at, changed);
  }

  /** An idle backend's servers had no traffic since: their rates are 0. */
  private settle(service: string, changed: Set<string>): void {
    for (const f of this.servers.get(service)?.values() ?? []) {
      if (f.rate === 0) continue;
      f.rate = 0;
      changed.add(service);
    }
  }

  /** A history point for every service and server; rings for servers with something to show. */
  private record(at: number): void {
    this.serviceHistory.record(at, (name) => historyPoint(this.services.get(name), at));
    for (const [service, servers] of this.servers) {
      for (const [name, f] of servers) {
        const p = historyPoint(f, at);
        // The least recently busy server gives its rings up first.
        if (p[0] > 0 || p[1] > 0 || p[2] > 0) {
          const key = `${service}/${name}`;
          if (this.serverHistory.keep(key)) this.serverHistory.touch(key);
        }
      }
    }
    this.serverHistory.record(at, (key) => {
      const slash = key.indexOf('/');
      return this.servers.get(key.slice(0, slash))?.get(key.slice(slash + 1))?.point;
    });
  }

  private async readLive(): Promise<void> {
    const at = this.now();
    const rows = await this.read('show stat -1 2 -1');
    if (!rows) return;
    const changed = new Set<string>();
    for (const row of rows) if (update(this.services, row.proxy, row, at)) changed.add(row.proxy);
    for (const name of this.watched()) if (await this.readService(name, 4)) changed.add(name);
    if (changed.size) this.emit('live', changed);
  }

  /** One service's rows (`types`: 2 backend, 4 servers, 6 both); true when a figure changed. */
  private async readService(name: string, types: 4 | 6): Promise<boolean> {
    const at = this.now();
    const rows = await this.read(`show stat ${name} ${types} -1`);
    if (!rows) return false;
    const changed = new Set<string>();
    for (const row of rows) {
      if (row.proxy !== name) continue;
      if (row.name === 'BACKEND') {
        if (update(this.services, name, row, at)) changed.add(name);
      } else if (update(this.serversOf(name), row.name, row, at)) changed.add(name);
    }
    this.forgetServers(name, at, changed);
    return changed.size > 0;
  }

  /** Drops the servers of `service` that the reading taken `at` did not have, with their history. */
  private forgetServers(service: string, at: number, changed: Set<string>): void {
    const servers = this.servers.get(service);
    if (!servers) return;
    for (const [name, f] of servers) {
      if (f.at === at) continue;
      servers.delete(name);
      this.serverHistory.drop(`${service}/${name}`);
      changed.add(service);
    }
    if (servers.size === 0) this.servers.delete(service);
  }

  private serversOf(service: string): Map<string, Figures> {
    let m = this.servers.get(service);
    if (!m) this.servers.set(service, (m = new Map()));
    return m;
  }

  /** Drops the services the backend reading taken `at` did not have (HAProxy no longer runs them). */
  private forgetServices(at: number, changed: Set<string>): void {
    for (const [name, f] of this.services) {
      if (f.at === at) continue;
      this.services.delete(name);
      this.serviceHistory.drop(name);
      for (const server of this.servers.get(name)?.keys() ?? []) this.serverHistory.drop(`${name}/${server}`);
      this.servers.delete(name);
      changed.add(name);
    }
  }
}
