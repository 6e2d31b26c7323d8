import { parseStat } from '../haproxy/state-parse';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { parseCacheCounts, type CacheCounts } from './cache-stats';

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
  /** proxy -> its object cache's counters, for the proxies that looked something up (same reading as `servers`). */
  caches: Map<string, CacheCounts>;
  /** True when `servers` is the last reading, not a fresh one (HAProxy slow, wedged or down); empty if there was none. */
  stale: boolean;
  /** When `servers` was read (epoch ms); undefined: never. */
  at?: number;
}

/** What one `show stat` gives. */
interface Reading {
  servers: Map<string, LiveServer>;
  caches: Map<string, CacheCounts>;
}
/** One per runtime client: the last reading, and the read in flight (at most one, whoever asks). */
interface StatsCache {
  last?: Reading & { at: number };
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
  if (!client) return { servers: new Map(), caches: new Map(), stale: false };
  let cache = caches.get(client);
  if (!cache) caches.set(client, (cache = {}));
  const c = cache;
  if (!c.inflight) {
    c.inflight = readStats(client).then(
      (reading) => {
        c.last = { ...reading, at: Date.now() };
        return true;
      },
      () => false,
    );
    void c.inflight.finally(() => (c.inflight = undefined));
  }
  let timer: NodeJS.Timeout | undefined;
  const fresh = await Promise.race([c.inflight, new Promise<false>((r) => (timer = setTimeout(() => r(false), waitMs)))]);
  clearTimeout(timer);
  return { servers: c.last?.servers ?? new Map(), caches: c.last?.caches ?? new Map(), stale: !fresh, at: c.last?.at };
}

/** `backend/server` -> HAProxy's status and counters; the last reading when HAProxy does not answer in time (see `liveStats`). */
export async function haproxyStats(client: RuntimeClient | undefined): Promise<Map<string, LiveServer>> {
  return (await liveStats(client)).servers;
}

/** The `show stat` columns a LiveServer is made of. */
const STAT_COLUMNS = ['pxname', 'svname', 'status', 'scur', 'stot', 'bin', 'bout', 'econ', 'eresp'];

async function readStats(client: RuntimeClient): Promise<Reading> {
  // Outside the batch queue: a read must not wait behind a batch (or a wedged one).
  // Servers, plus the proxies' own rows for their cache counters (a few rows more, no second query).
  const output = await client.query('show stat -1 7 -1');
  if (!output.startsWith('#')) throw new Error(`show stat: ${output.trim().slice(0, 200)}`);
  const out = new Map<string, LiveServer>();
  const n = (v: string | undefined) => Number(v ?? 0) || 0;
  for (const r of parseStat(output, STAT_COLUMNS)) {
    if (r.svname === 'FRONTEND' || r.svname === 'BACKEND') continue;
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
  return { servers: out, caches: parseCacheCounts(output) };
}
