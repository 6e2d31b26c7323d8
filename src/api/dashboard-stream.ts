import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentView } from '../agent/view';
import { diff, serverNumbers, serverRows, serviceNumbers, serviceRow, type ServiceNumbers, type ServiceRow } from './dashboard-rows';
import type { EventFeed, FeedEntry } from './feed';
import { HOUR_STEP_MS } from './history';
import type { StatsSampler } from './stats-sampler';

const HEARTBEAT_MS = 15_000;
const CHANGE_DEBOUNCE_MS = 100;
/** A reader this far behind (a stalled tab) is cut off; it reconnects to a fresh snapshot. */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** How many services one tab may expand at once. */
export const MAX_WATCHED = 50;

/** One connected tab: what it was last sent of the servers it watches. */
interface Reader {
  res: ServerResponse;
  watched: Set<string>;
  /** service -> server -> JSON of the row it was sent. */
  servers: Map<string, Map<string, string>>;
  /** service -> server -> JSON of the numbers it was sent. */
  numbers: Map<string, Map<string, string>>;
}

/**
 * `GET /events` (docs/dashboard.md): a snapshot, then only what changed. The service rows
 * and numbers every reader was sent are kept once (the baseline); a new reader's snapshot
 * is that baseline, so one delta fits every reader. Nothing is computed while no tab is
 * connected, and a change costs the services it names, not the fleet.
 */
export class DashboardStream {
  private readonly readers = new Map<string, Reader>();
  /** service -> JSON of its row, as every reader has it. */
  private readonly rows = new Map<string, string>();
  private readonly numbers = new Map<string, string>();
  private sentProblems = '';
  private sentReloads = -1;
  private pending = new Set<string>();
  private pendingAll = false;
  private changeTimer?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onChanged = (names?: readonly string[]) => this.changed(names);
  private readonly onLive = (names: ReadonlySet<string>) => this.live(names);
  private readonly onTick = (at: number) => {
    if (!this.readers.size) return;
    // Statuses also change with time alone (a source down past its grace): look at every row.
    this.changed(undefined);
    this.broadcast('tick', { at: new Date(at).toISOString() });
  };
  private readonly onEntry = (e: FeedEntry) => this.broadcast('log', e);

  constructor(
    private readonly agent: AgentView,
    private readonly sampler: StatsSampler,
    private readonly feed: EventFeed,
  ) {
    agent.events.on('changed', this.onChanged);
    sampler.on('live', this.onLive);
    sampler.on('tick', this.onTick);
    feed.on('entry', this.onEntry);
    sampler.watched = () => this.watchedAll();
    this.heartbeat = setInterval(() => {
      for (const r of this.readers.values()) r.res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // nginx buffers responses by default, which would hold the stream back.
      'x-accel-buffering': 'no',
    });
    if (this.readers.size === 0) this.rebase();
    const id = randomBytes(16).toString('base64url');
    res.write('retry: 2000\n\n');
    send(res, 'hello', { stream: id, interval_ms: this.sampler.intervalMs, history_step_ms: HOUR_STEP_MS, feed: this.feed.recent() });
    const services: Array<ServiceRow & { stats: ServiceNumbers | null }> = [];
    for (const [name, json] of this.rows) services.push({ ...(JSON.parse(json) as ServiceRow), stats: JSON.parse(this.numbers.get(name) ?? 'null') as ServiceNumbers | null });
    send(res, 'snapshot', { at: new Date().toISOString(), problems: JSON.parse(this.sentProblems) as string[], reloads: this.sentReloads, services });
    this.readers.set(id, { res, watched: new Set(), servers: new Map(), numbers: new Map() });
    this.sampler.setLive(true);
    req.on('close', () => this.close(id));
  }

  /** Which services this reader has expanded: it gets their servers (in full first) and their numbers. */
  watch(id: string, services: readonly string[]): boolean {
    const r = this.readers.get(id);
    if (!r) return false;
    const next = new Set(services.slice(0, MAX_WATCHED));
    for (const name of r.watched) {
      if (next.has(name)) continue;
      r.servers.delete(name);
      r.numbers.delete(name);
    }
    const added = [...next].filter((n) => !r.watched.has(n));
    r.watched = next;
    for (const name of added) this.sendServers(r, name);
    // Fresh figures for what was just opened; they arrive as a live event.
    if (added.length) void this.sampler.refresh(added);
    return true;
  }

  close(id?: string): void {
    if (id !== undefined) {
      this.readers.delete(id);
      if (this.readers.size === 0) this.sampler.setLive(false);
      return;
    }
    this.agent.events.off('changed', this.onChanged);
    this.sampler.off('live', this.onLive);
    this.sampler.off('tick', this.onTick);
    this.feed.off('entry', this.onEntry);
    clearInterval(this.heartbeat);
    clearTimeout(this.changeTimer);
    for (const r of this.readers.values()) r.res.end();
    this.readers.clear();
    this.sampler.setLive(false);
  }

  private watchedAll(): Set<string> {
    const all = new Set<string>();
    for (const r of this.readers.values()) for (const n of r.watched) all.add(n);
    return all;
  }

  /** The baseline from scratch: the first reader after none gets the state of now. */
  private rebase(): void {
    this.rows.clear();
    this.numbers.clear();
    for (const s of this.agent.statuses()) {
      this.rows.set(s.name, JSON.stringify(serviceRow(s)));
      this.numbers.set(s.name, JSON.stringify(serviceNumbers(this.sampler.services.get(s.name))));
    }
    this.sentProblems = JSON.stringify(this.agent.problems());
    this.sentReloads = this.agent.stats.reloads;
    this.pending.clear();
    this.pendingAll = false;
  }

  /** Names that may have changed (undefined: any); sent after a short quiet time, in one message. */
  private changed(names: readonly string[] | undefined): void {
    if (!this.readers.size) return;
    if (names === undefined) this.pendingAll = true;
    else for (const n of names) this.pending.add(n);
    this.changeTimer ??= setTimeout(() => {
      this.changeTimer = undefined;
      this.flush();
    }, CHANGE_DEBOUNCE_MS);
  }

  private flush(): void {
    if (!this.readers.size) return;
    const now = Date.now();
    const rows = new Map<string, ServiceRow>();
    let names: Iterable<string>;
    if (this.pendingAll) {
      for (const s of this.agent.statuses(now)) rows.set(s.name, serviceRow(s));
      names = new Set([...rows.keys(), ...this.rows.keys()]);
    } else {
      for (const n of this.pending) {
        const s = this.agent.status(n, now);
        if (s) rows.set(n, serviceRow(s));
      }
      names = this.pending;
    }
    const changed: ServiceRow[] = [];
    const removed: string[] = [];
    for (const name of names) {
      const row = rows.get(name);
      if (!row) {
        if (this.rows.delete(name)) removed.push(name);
        this.numbers.delete(name);
        continue;
      }
      const json = JSON.stringify(row);
      if (this.rows.get(name) === json) continue;
      this.rows.set(name, json);
      changed.push(row);
    }
    const problems = JSON.stringify(this.agent.problems(now));
    const reloads = this.agent.stats.reloads;
    const msg: Record<string, unknown> = { at: new Date(now).toISOString(), changed, removed };
    if (problems !== this.sentProblems) msg.problems = JSON.parse((this.sentProblems = problems)) as string[];
    if (reloads !== this.sentReloads) msg.reloads = this.sentReloads = reloads;
    if (changed.length || removed.length || 'problems' in msg || 'reloads' in msg) this.broadcast('services', msg);
    // A service new to the readers gets its numbers with it.
    if (changed.length) this.live(new Set(changed.map((row) => row.name)), false);
    const touched = this.pendingAll ? [...this.watchedAll()] : [...this.pending];
    this.pending = new Set();
    this.pendingAll = false;
    for (const r of this.readers.values()) for (const name of touched) if (r.watched.has(name)) this.sendServers(r, name);
    // What HAProxy now runs for them, read at once rather than at the next sample.
    if (touched.length) void this.sampler.refresh(touched.filter((n) => rows.has(n)));
  }

  /** A live reading: the numbers that changed, to everyone; servers of watched services to their readers. */
  private live(names: ReadonlySet<string>, servers = true): void {
    if (!this.readers.size) return;
    const v: Record<string, ServiceNumbers | null> = {};
    let any = false;
    for (const name of names) {
      if (!this.rows.has(name)) continue;
      const nums = serviceNumbers(this.sampler.services.get(name));
      const json = JSON.stringify(nums);
      if (this.numbers.get(name) === json) continue;
      this.numbers.set(name, json);
      v[name] = nums;
      any = true;
    }
    if (any) this.broadcast('stats', { at: new Date().toISOString(), v });
    if (!servers) return;
    for (const r of this.readers.values()) {
      for (const name of r.watched) {
        if (!names.has(name)) continue;
        this.sendServers(r, name);
        this.sendServerNumbers(r, name);
      }
    }
  }

  /** A watched service's server rows that changed since this reader was last sent them (all of them the first time). */
  private sendServers(r: Reader, service: string): void {
    const full = !r.servers.has(service);
    const sent = r.servers.get(service) ?? new Map<string, string>();
    r.servers.set(service, sent);
    const live = this.sampler.servers.get(service);
    const rows = serverRows(this.agent.desiredService(service), (server) => this.agent.overrideOf(service, server), live);
    const { changed, removed } = diff(sent, new Map(rows.map((row) => [row.name, row])));
    if (full || changed.length || removed.length) this.write(r, 'servers', { service, full, changed, removed });
    if (full) this.sendServerNumbers(r, service);
  }

  private sendServerNumbers(r: Reader, service: string): void {
    const sent = r.numbers.get(service) ?? new Map<string, string>();
    r.numbers.set(service, sent);
    const now = new Map<string, unknown>();
    for (const [name, f] of this.sampler.servers.get(service) ?? []) now.set(name, serverNumbers(f));
    const v: Record<string, unknown> = {};
    for (const [name, nums] of now) {
      const json = JSON.stringify(nums);
      if (sent.get(name) === json) continue;
      sent.set(name, json);
      v[name] = nums;
    }
    for (const name of [...sent.keys()]) if (!now.has(name)) sent.delete(name);
    if (Object.keys(v).length) this.write(r, 'server-stats', { at: new Date().toISOString(), service, v });
  }

  private broadcast(event: string, data: unknown): void {
    if (!this.readers.size) return;
    const text = frame(event, data);
    for (const r of this.readers.values()) this.writeText(r, text);
  }

  private write(r: Reader, event: string, data: unknown): void {
    this.writeText(r, frame(event, data));
  }

  private writeText(r: Reader, text: string): void {
    if (r.res.writableLength > MAX_BUFFERED) {
      r.res.destroy();
      return;
    }
    r.res.write(text);
  }
}

function send(res: ServerResponse, event: string, data: unknown): void {
  res.write(frame(event, data));
}

/** One Server-Sent Events message. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
