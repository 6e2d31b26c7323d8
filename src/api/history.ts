/**
 * Bounded history of request rate, sessions and errors, per entity (a service, or a
 * server), in two rings: the last hour at 10 s and the last 24 hours at 5 min. Pure: the
 * caller passes the time. One entity costs (360 + 288) x 3 float32 = 7,776 bytes; a
 * store keeps at most `maxEntities` of them, giving up the rings of the entity that was
 * active the longest ago (docs/dashboard.md).
 */

export const HOUR_STEP_MS = 10_000;
export const HOUR_POINTS = 360;
/** A day point covers this many hour points (5 min). */
export const PER_DAY_POINT = 30;
export const DAY_STEP_MS = HOUR_STEP_MS * PER_DAY_POINT;
export const DAY_POINTS = 288;
/** Bytes of ring per entity. */
export const ENTITY_BYTES = (HOUR_POINTS + DAY_POINTS) * 3 * 4;

/** One reading: requests per second, current sessions, errors in the step (NaN: unknown). */
export type Point = readonly [rate: number, sessions: number, errors: number];

export interface Series {
  /** Epoch ms of the first point (oldest first); undefined when there is none. */
  start?: number;
  step_ms: number;
  rate: Array<number | null>;
  sessions: Array<number | null>;
  errors: Array<number | null>;
}

interface Rings {
  hour: Float32Array;
  day: Float32Array;
}

export class HistoryStore {
  private readonly rings = new Map<string, Rings>();
  /** Keys by last activity, least recent first (a Map keeps insertion order). */
  private readonly activity = new Map<string, true>();
  /** The step number of the first point (`origin`) and of the latest. */
  private origin?: number;
  private last = -1;

  constructor(private readonly maxEntities = Infinity) {}

  get size(): number {
    return this.rings.size;
  }

  has(key: string): boolean {
    return this.rings.has(key);
  }

  /** Rings for `key` (from now on; earlier points stay unknown). False: the limit is 0. */
  keep(key: string): boolean {
    if (this.rings.has(key)) return true;
    if (this.maxEntities <= 0) return false;
    if (this.rings.size >= this.maxEntities) {
      const oldest = this.activity.keys().next().value;
      if (oldest !== undefined) this.drop(oldest);
    }
    this.rings.set(key, { hour: new Float32Array(HOUR_POINTS * 3).fill(NaN), day: new Float32Array(DAY_POINTS * 3).fill(NaN) });
    this.activity.set(key, true);
    return true;
  }

  /** Marks `key` active now (it is the last to lose its rings). */
  touch(key: string): void {
    if (!this.activity.has(key)) return;
    this.activity.delete(key);
    this.activity.set(key, true);
  }

  drop(key: string): void {
    this.rings.delete(key);
    this.activity.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.rings.keys();
  }

  /**
   * The point at `at` for every entity with rings: `point(key)`, or unknown when it has
   * none. Steps skipped since the last call (a reading that failed) are unknown too.
   */
  record(at: number, point: (key: string) => Point | undefined): void {
    const step = Math.floor(at / HOUR_STEP_MS);
    if (this.origin === undefined) {
      this.origin = step;
      this.last = step - 1;
    }
    if (step <= this.last) return;
    // After a gap longer than both rings (a suspended host), everything is unknown.
    if (step - this.last > HOUR_POINTS + DAY_POINTS * PER_DAY_POINT) {
      for (const r of this.rings.values()) {
        r.hour.fill(NaN);
        r.day.fill(NaN);
      }
      this.last = step - 1;
    }
    for (let s = this.last + 1; s <= step; s++) {
      const slot = (s % HOUR_POINTS) * 3;
      for (const [key, r] of this.rings) {
        const p = s === step ? point(key) : undefined;
        r.hour[slot] = p ? p[0] : NaN;
        r.hour[slot + 1] = p ? p[1] : NaN;
        r.hour[slot + 2] = p ? p[2] : NaN;
      }
      // A finished 5-minute span becomes a day point.
      if ((s + 1) % PER_DAY_POINT === 0) this.rollUp(s + 1 - PER_DAY_POINT);
    }
    this.last = step;
  }

  /** The entity's two series, oldest first; undefined when it has no rings. */
  series(key: string): { hour: Series; day: Series } | undefined {
    const r = this.rings.get(key);
    if (!r) return undefined;
    if (this.origin === undefined) return { hour: empty(HOUR_STEP_MS), day: empty(DAY_STEP_MS) };
    const hourFrom = Math.max(this.origin, this.last - HOUR_POINTS + 1);
    const hour = read(r.hour, HOUR_POINTS, hourFrom, this.last, HOUR_STEP_MS);
    // Day points exist for the spans that ended; span d covers steps d*30 .. d*30+29.
    const lastSpan = Math.floor((this.last + 1) / PER_DAY_POINT) - 1;
    const firstSpan = Math.max(Math.floor(this.origin / PER_DAY_POINT), lastSpan - DAY_POINTS + 1);
    const day = read(r.day, DAY_POINTS, firstSpan, lastSpan, DAY_STEP_MS);
    return { hour, day };
  }

  /** Day point for the span starting at hour step `first`: mean rate, highest sessions, sum of errors. */
  private rollUp(first: number): void {
    const span = first / PER_DAY_POINT;
    const dslot = (span % DAY_POINTS) * 3;
    for (const r of this.rings.values()) {
      let rate = 0;
      let n = 0;
      let sessions = NaN;
      let errors = NaN;
      for (let s = first; s < first + PER_DAY_POINT; s++) {
        const slot = (s % HOUR_POINTS) * 3;
        const [pr, ps, pe] = [r.hour[slot], r.hour[slot + 1], r.hour[slot + 2]];
        if (!Number.isNaN(pr)) {
          rate += pr;
          n++;
        }
        if (!Number.isNaN(ps)) sessions = Number.isNaN(sessions) ? ps : Math.max(sessions, ps);
        if (!Number.isNaN(pe)) errors = Number.isNaN(errors) ? pe : errors + pe;
      }
      r.day[dslot] = n ? rate / n : NaN;
      r.day[dslot + 1] = sessions;
      r.day[dslot + 2] = errors;
    }
  }
}

function empty(stepMs: number): Series {
  return { step_ms: stepMs, rate: [], sessions: [], errors: [] };
}

/** Points `from`..`to` (numbered in the ring's own step, counted from the epoch) out of a ring of `points`. */
function read(ring: Float32Array, points: number, from: number, to: number, stepMs: number): Series {
  const out = empty(stepMs);
  if (to < from) return out;
  out.start = from * stepMs;
  const v = (x: number) => (Number.isNaN(x) ? null : Math.round(x * 100) / 100);
  for (let s = from; s <= to; s++) {
    const slot = (s % points) * 3;
    out.rate.push(v(ring[slot]));
    out.sessions.push(v(ring[slot + 1]));
    out.errors.push(v(ring[slot + 2]));
  }
  return out;
}
