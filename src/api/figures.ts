import type { Point } from './history';
import type { StatRow } from './stat-rows';

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
  /** The counters at the last history reading (hAt -1: none yet). */
  hTotal: number;
  hErrors: number;
  hAt: number;
  /** The history point of the last history reading (kept in place: 20,000 servers make no garbage every 10 s). */
  point: [number, number, number];
}

/** Takes a reading into `map`; true when what the dashboard shows of it changed. */
export function update(map: Map<string, Figures>, key: string, row: StatRow, at: number): boolean {
  const f = map.get(key);
  if (!f) {
    const point: [number, number, number] = [NaN, NaN, NaN];
    map.set(key, { status: row.status, up: row.up, sessions: row.sessions, rate: 0, errors: row.errors, total: row.total, at, hTotal: 0, hErrors: 0, hAt: -1, point });
    return true;
  }
  const seconds = (at - f.at) / 1000;
  const rate = seconds > 0 ? Math.round((grown(f.total, row.total) / seconds) * 10) / 10 : f.rate;
  const changed = f.status !== row.status || f.up !== row.up || f.sessions !== row.sessions || f.errors !== row.errors || f.rate !== rate;
  f.status = row.status;
  f.up = row.up;
  f.sessions = row.sessions;
  f.rate = rate;
  f.errors = row.errors;
  f.total = row.total;
  f.at = at;
  return changed;
}

const UNKNOWN: Point = [NaN, NaN, NaN];

/** The history point since the last history reading (in `f.point`), and the counters kept for the next. */
export function historyPoint(f: Figures | undefined, at: number): Point {
  if (!f) return UNKNOWN;
  const p = f.point;
  if (f.hAt < 0 || at <= f.hAt) {
    p[0] = NaN;
    p[2] = NaN;
  } else {
    p[0] = grown(f.hTotal, f.total) / ((at - f.hAt) / 1000);
    p[2] = grown(f.hErrors, f.errors);
  }
  p[1] = f.sessions;
  f.hTotal = f.total;
  f.hErrors = f.errors;
  f.hAt = at;
  return p;
}

/** How much a counter grew; one that went down was reset by a reload, so its value is what happened since. */
function grown(before: number, after: number): number {
  return after >= before ? after - before : after;
}
