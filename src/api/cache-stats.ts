import type { DesiredService } from '../model/desired';

/** A service's object cache as HAProxy counts it since it started (a reload resets it). */
export interface CacheCounts {
  lookups: number;
  hits: number;
}

/**
 * The cache counters of each proxy in a `show stat` reply (proxy -> counts), only those
 * that looked something up. A `listen` counts its lookups on its FRONTEND row, a backend
 * behind a shared frontend on its BACKEND row: both are added. Server rows, the bulk of
 * the reply, cost two `indexOf` each; the few proxy rows are walked comma by comma to the
 * two columns (far to the right), without splitting them.
 */
export function parseCacheCounts(text: string): Map<string, CacheCounts> {
  const out = new Map<string, CacheCounts>();
  if (!text.startsWith('# ')) return out;
  let nl = text.indexOf('\n');
  if (nl < 0) return out;
  const header = text.slice(2, nl).split(',');
  const lookupsAt = header.indexOf('cache_lookups');
  const hitsAt = header.indexOf('cache_hits');
  if (lookupsAt < 0 || hitsAt < 0) return out;
  const last = Math.max(lookupsAt, hitsAt);
  while (nl >= 0 && nl < text.length - 1) {
    const start = nl + 1;
    nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    const c1 = text.indexOf(',', start);
    if (c1 < 0 || c1 > end) continue;
    const c2 = text.indexOf(',', c1 + 1);
    // FRONTEND or BACKEND, told apart from servers by length and first letter before comparing.
    const len = c2 - c1 - 1;
    const first = text.charCodeAt(c1 + 1);
    const kind = (len === 8 && first === 70) || (len === 7 && first === 66) ? text.slice(c1 + 1, c2) : '';
    if (kind !== 'FRONTEND' && kind !== 'BACKEND') continue;
    let lookups = 0;
    let hits = 0;
    let from = start;
    for (let i = 0; i <= last && from <= end; i++) {
      let to = text.indexOf(',', from);
      if (to < 0 || to > end) to = end;
      if (i === lookupsAt) lookups = Number(text.slice(from, to)) || 0;
      else if (i === hitsAt) hits = Number(text.slice(from, to)) || 0;
      from = to + 1;
    }
    if (lookups === 0 && hits === 0) continue;
    const proxy = text.slice(start, c1);
    const had = out.get(proxy);
    if (had) {
      had.lookups += lookups;
      had.hits += hits;
    } else out.set(proxy, { lookups, hits });
  }
  return out;
}

/** The names of the services that run an object cache. */
export function cachedServices(desired: readonly DesiredService[]): string[] {
  return desired.filter((s) => s.listen.sections?.some((x) => x.kind === 'cache')).map((s) => s.name);
}

/** `{lookups, hits, misses}` for /api/services (0s before the first lookup). */
export function cacheView(counts: CacheCounts | undefined): { lookups: number; hits: number; misses: number } {
  const lookups = counts?.lookups ?? 0;
  const hits = counts?.hits ?? 0;
  return { lookups, hits, misses: lookups - hits };
}
