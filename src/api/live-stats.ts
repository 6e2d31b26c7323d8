import { EventEmitter } from 'node:events';
import type { AgentView } from '../agent/view';
import { parseStat } from '../haproxy/state-parse';
import type { RuntimeClient } from '../haproxy/runtime-client';

export interface LiveServer {
  status: string;
  sessions_current: number;
  sessions_total: number;
  bytes_in: number;
  bytes_out: number;
  connection_errors: number;
  response_errors: number;
}

/** How long a request waits for a fresh `show stat` before it is served the last one read. */
export const FRESH_STATS_WAIT_MS = 500;

export interface LiveStats {
  /** `backend/server` -> HAProxy's status and counters. */
  servers: Map<string, LiveServer>;
  /** True when `servers` is the last reading, not a fresh one (HAProxy slow, wedged or down); empty if there was none. */
  stale: boolean;
  /** When `servers` was read (epoch ms); undefined: never. */
  at?: number;
}

/** One per runtime client: the last reading, and the read in flight (at most one, whoever asks). */
interface StatsCache {
  last?: { servers: Map<string, LiveServer>; at: number };
  inflight?: Promise<boolean>;
}
const caches = new WeakMap<RuntimeClient, StatsCache>();

/**
 * HAProxy's per-server figures, fresh if `show stat` answers within `waitMs`, else the
 * last reading marked stale. The read goes on after `waitMs` (bounded by the client's
 * timeout) and updates the reading for the next caller; a slow HAProxy never holds up
 * /metrics, /api/services or the dashboard by more than `waitMs`.
 */
export async function liveStats(client: RuntimeClient | undefined, waitMs = FRESH_STATS_WAIT_MS): Promise<LiveStats> {
  if (!client) return { servers: new Map(), stale: false };
  let cache = caches.get(client);
  if (!cache) caches.set(client, (cache = {}));
  const c = cache;
  if (!c.inflight) {
    c.inflight = readStats(client).then(
      (servers) => {
        c.last = { servers, at: Date.now() };
        return true;
      },
      () => false,
    );
    void c.inflight.finally(() => (c.inflight = undefined));
  }
  let timer: NodeJS.Timeout | undefined;
  const fresh = await Promise.race([c.inflight, new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
  clearTimeout(timer);
  return { servers: c.last?.servers ?? new Map(), stale: !fresh, at: c.last?.at };
}

/** `backend/server` -> HAProxy's status and counters; the last reading when HAProxy does not answer in time (see `liveStats`). */
export async function haproxyStats(client: RuntimeClient | undefined): Promise<Map<string, LiveServer>> {
  return (await liveStats(client)).servers;
}

/** The `show stat` columns a LiveServer is made of. */
const STAT_COLUMNS = ['pxname', 'svname', 'status', 'scur', 'stot', 'bin', 'bout', 'econ', 'eresp'];

async function readStats(client: RuntimeClient): Promise<Map<string, LiveServer>> {
  // Outside the batch queue: a read must not wait behind a batch (or a wedged one).
  const output = await client.query('show stat -1 4 -1');
  if (!output.startsWith('#')) throw new Error(`show stat: ${output.trim().slice(0, 200)}`);
  const out = new Map<string, LiveServer>();
  const n = (v: string | undefined) => Number(v ?? 0) || 0;
  for (const r of parseStat(output, STAT_COLUMNS)) {
    out.set(`${r.pxname}/${r.svname}`, {
      status: r.status,
      sessions_current: n(r.scur),
      sessions_total: n(r.stot),
      bytes_in: n(r.bin),
      bytes_out: n(r.bout),
      connection_errors: n(r.econ),
      response_errors: n(r.eresp),
    });
  }
  return out;
}

export type RatedServer = LiveServer & { /** Sessions per second over the last interval. */ rate: number };

/**
 * Per-server session rates from two readings of HAProxy's session counters. A counter
 * that went down was reset by a reload: its new value is what happened since.
 */
export function withRates(prev: ReadonlyMap<string, LiveServer>, now: ReadonlyMap<string, LiveServer>, seconds: number): Map<string, RatedServer> {
  const out = new Map<string, RatedServer>();
  for (const [key, v] of now) {
    const before = prev.get(key)?.sessions_total;
    const delta = before === undefined ? 0 : v.sessions_total >= before ? v.sessions_total - before : v.sessions_total;
    out.set(key, { ...v, rate: seconds > 0 ? Math.round((delta / seconds) * 10) / 10 : 0 });
  }
  return out;
}

/** Sums per-server rates by service (the backend is the part of the key before the slash). */
export function serviceRates(servers: ReadonlyMap<string, RatedServer>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, v] of servers) {
    const service = key.slice(0, key.indexOf('/'));
    out.set(service, Math.round(((out.get(service) ?? 0) + v.rate) * 10) / 10);
  }
  return out;
}

/**
 * Reads HAProxy's counters every `intervalMs` for the dashboard: the latest per-server
 * values with rates, and a per-service history of sessions per second for its charts.
 */
export class StatsSampler extends EventEmitter<{ sample: [] }> {
  latest = new Map<string, RatedServer>();
  private previous = new Map<string, LiveServer>();
  private previousAt = 0;
  private readonly history = new Map<string, Array<[number, number]>>();
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly agent: AgentView,
    private readonly client: RuntimeClient | undefined,
    readonly intervalMs: number,
    /** How many samples the charts keep (the window is points x interval). */
    private readonly points: number,
  ) {
    super();
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** service -> [[epoch ms, sessions/s], ...], oldest first. */
  series(): Record<string, Array<[number, number]>> {
    return Object.fromEntries(this.history);
  }

  private async sample(): Promise<void> {
    // A slow `show stat` must not pile up readings.
    if (this.running) return;
    this.running = true;
    try {
      const live = await liveStats(this.client);
      // No fresh reading (HAProxy slow or wedged): keep the latest rates rather than chart a false zero.
      if (live.stale) return;
      const now = live.servers;
      const at = Date.now();
      this.latest = withRates(this.previous, now, this.previousAt ? (at - this.previousAt) / 1000 : 0);
      const first = this.previousAt === 0;
      this.previous = now;
      this.previousAt = at;
      if (first) return;
      const rates = serviceRates(this.latest);
      const names = new Set(this.agent.desiredServices().map((s) => s.name));
      for (const name of names) {
        const h = this.history.get(name) ?? [];
        h.push([at, rates.get(name) ?? 0]);
        if (h.length > this.points) h.splice(0, h.length - this.points);
        this.history.set(name, h);
      }
      for (const name of [...this.history.keys()]) if (!names.has(name)) this.history.delete(name);
      this.emit('sample');
    } finally {
      this.running = false;
    }
  }
}
