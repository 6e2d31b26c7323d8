import { EventEmitter } from 'node:events';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { HistoryStore, HOUR_STEP_MS, type Point } from './history';
import { parseStatRows, type StatRow } from './stat-rows';

/** HAProxy's figures for one service's backend or one server, as of its last reading. */
export interface Figures {
  status: string;
  /** Backends: servers usable now. */
  up: number;
  sessions: number;
  /** Requests per second since the reading before. */
  rate: number;
  /** Connection and response errors since HAProxy started (a reload resets them). */
  errors: number;
  total: number;
  at: number;
  /** The counters at the last history reading. */
  h?: { total: number; errors: number; at: number };
}

/** More services than this changed at once: one reading of every backend instead of one each. */
const REFRESH_EACH_MAX = 20;
/** Past a step boundary: `floor(at / step)` then names the step this reading belongs to. */
const STEP_OFFSET_MS = 1000;

/**
 * Reads HAProxy's counters for the dashboard at a cost that fits a sidecar
 * (docs/dashboard.md): every 10 s all backends and servers, for the history rings; while
 * a tab is open, every `intervalMs` the backend rows and the servers of the services a
 * tab has expanded; after an apply, the services it touched.
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
    const text = await this.client.query(command);
    return text.startsWith('#') ? parseStatRows(text) : [];
  }

  /** Every backend and server: figures, history points, and what HAProxy no longer runs. */
  private async readAll(): Promise<void> {
    const at = this.now();
    const rows = await this.read('show stat -1 6 -1');
    if (!rows) return;
    const changed = new Set<string>();
    const seen = new Map<string, Set<string>>();
    for (const row of rows) {
      const isBackend = row.name === 'BACKEND';
      if (isBackend) {
        if (update(this.services, row.proxy, row, at)) changed.add(row.proxy);
        this.serviceHistory.keep(row.proxy);
        if (!seen.has(row.proxy)) seen.set(row.proxy, new Set());
        continue;
      }
      let names = seen.get(row.proxy);
      if (!names) seen.set(row.proxy, (names = new Set()));
      names.add(row.name);
      if (update(this.serversOf(row.proxy), row.name, row, at)) changed.add(row.proxy);
    }
    this.forget(seen, changed);
    this.serviceHistory.record(at, (name) => historyPoint(this.services.get(name), at));
    const points = new Map<string, Point>();
    for (const [service, servers] of this.servers) {
      for (const [name, f] of servers) {
        const key = `${service}/${name}`;
        const p = historyPoint(f, at);
        points.set(key, p);
        // Rings go to servers with something to show, the least recently busy giving theirs up first.
        if (p[0] > 0 || p[1] > 0 || p[2] > 0) {
          if (this.serverHistory.keep(key)) this.serverHistory.touch(key);
        }
      }
    }
    this.serverHistory.record(at, (key) => points.get(key));
    if (changed.size) this.emit('live', changed);
    this.emit('tick', at);
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
    let changed = false;
    const servers = new Set<string>();
    for (const row of rows) {
      if (row.proxy !== name) continue;
      if (row.name === 'BACKEND') changed = update(this.services, name, row, at) || changed;
      else {
        servers.add(row.name);
        changed = update(this.serversOf(name), row.name, row, at) || changed;
      }
    }
    const known = this.servers.get(name);
    for (const server of known?.keys() ?? []) {
      if (servers.has(server)) continue;
      known!.delete(server);
      changed = true;
    }
    return changed;
  }

  private serversOf(service: string): Map<string, Figures> {
    let m = this.servers.get(service);
    if (!m) this.servers.set(service, (m = new Map()));
    return m;
  }

  /** Drops what the last full reading did not have (services and servers HAProxy no longer runs). */
  private forget(seen: ReadonlyMap<string, ReadonlySet<string>>, changed: Set<string>): void {
    for (const name of [...this.services.keys()]) {
      if (seen.has(name)) continue;
      this.services.delete(name);
      this.serviceHistory.drop(name);
      changed.add(name);
    }
    for (const [service, servers] of this.servers) {
      const now = seen.get(service);
      for (const name of [...servers.keys()]) {
        if (now?.has(name)) continue;
        servers.delete(name);
        this.serverHistory.drop(`${service}/${name}`);
        changed.add(service);
      }
      if (servers.size === 0) this.servers.delete(service);
    }
  }
}

/** Takes a reading into `map`; true when what the dashboard shows of it changed. */
export function update(map: Map<string, Figures>, key: string, row: StatRow, at: number): boolean {
  const f = map.get(key);
  if (!f) {
    map.set(key, { status: row.status, up: row.up, sessions: row.sessions, rate: 0, errors: row.errors, total: row.total, at });
    return true;
  }
  const seconds = (at - f.at) / 1000;
  const rate = seconds > 0 ? Math.round((grown(f.total, row.total) / seconds) * 10) / 10 : f.rate;
  const changed = f.status !== row.status || f.up !== row.up || f.sessions !== row.sessions || f.errors !== row.errors || f.rate !== rate;
  Object.assign(f, { status: row.status, up: row.up, sessions: row.sessions, rate, errors: row.errors, total: row.total, at });
  return changed;
}

/** The history point since the last history reading, and the counters kept for the next. */
export function historyPoint(f: Figures | undefined, at: number): Point {
  if (!f) return [NaN, NaN, NaN];
  const h = f.h;
  f.h = { total: f.total, errors: f.errors, at };
  if (!h || at <= h.at) return [NaN, f.sessions, NaN];
  return [grown(h.total, f.total) / ((at - h.at) / 1000), f.sessions, grown(h.errors, f.errors)];
}

/** How much a counter grew; one that went down was reset by a reload, so its value is what happened since. */
function grown(before: number, after: number): number {
  return after >= before ? after - before : after;
}
