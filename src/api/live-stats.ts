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

/** `backend/server` -> HAProxy's status and counters; empty when HAProxy cannot be asked. */
export async function haproxyStats(client: RuntimeClient | undefined): Promise<Map<string, LiveServer>> {
  const out = new Map<string, LiveServer>();
  if (!client) return out;
  try {
    const [reply] = await client.batch(['show stat -1 4 -1']);
    if (!reply.ok) return out;
    const n = (v: string | undefined) => Number(v ?? 0) || 0;
    for (const r of parseStat(reply.output)) {
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
  } catch {
    // HAProxy restarting: report no live data rather than fail the request.
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
      const now = await haproxyStats(this.client);
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
