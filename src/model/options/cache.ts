import { createHash } from 'node:crypto';
import { z } from 'zod';
import { needsHttp, type Feature } from './feature';

/**
 * A small object cache in front of the service (`cache`): HAProxy keeps the responses it
 * may (GET, 200, cacheable by their headers, no Vary) in shared memory, for at most
 * `max_age_s` (a response's own max-age may shorten it), and answers repeats from there.
 * The service owns a `cache` section of its own, named after it.
 */
const cache = z
  .strictObject({
    /** Memory for the whole cache; HAProxy takes 1..4095 MB. */
    size_mb: z.int('must be an integer (megabytes)').min(1, 'must be 1..4095').max(4095, 'must be 1..4095'),
    /** HAProxy's default is 60 s. */
    max_age_s: z.int('must be an integer (seconds)').min(1, 'must be 1..31536000 (a year)').max(31_536_000, 'must be 1..31536000 (a year)').optional(),
    /** Larger responses pass uncached; HAProxy refuses more than half of size_mb. */
    max_object_kb: z.int('must be an integer (kilobytes)').min(1, 'must be at least 1').max(2_096_640, 'must be at most 2096640').optional(),
  })
  .optional();
type Cache = z.infer<typeof cache>;

/** HAProxy keeps 32 characters of a cache's name (and truncates silently); service names go to 100. */
const NAME_MAX = 32;

/**
 * The service's cache name: its own name when that fits, else a readable prefix and a
 * hash of the whole name. `~` is not allowed in service names, so a shortened name never
 * equals another service's own.
 */
export function cacheName(service: string): string {
  if (service.length <= NAME_MAX) return service;
  const hash = createHash('sha256').update(service, 'utf8').digest('hex').slice(0, 8);
  return `${service.slice(0, NAME_MAX - hash.length - 1)}~${hash}`;
}

export const cacheFeature: Feature = {
  keys: { cache },
  problems(o) {
    const c = o.cache as Cache;
    const out = needsHttp(o, 'cache');
    // haproxy -c refuses a max-object-size above half the cache (in bytes).
    if (c?.max_object_kb !== undefined && c.max_object_kb * 2 > c.size_mb * 1024) out.push(`cache.max_object_kb: must be at most half of size_mb (${c.size_mb * 512})`);
    return out;
  },
  compile(o, service) {
    const c = o.cache as Cache;
    if (!c) return {};
    const name = cacheName(service);
    const lines = [`total-max-size ${c.size_mb}`];
    if (c.max_age_s !== undefined) lines.push(`max-age ${c.max_age_s}`);
    if (c.max_object_kb !== undefined) lines.push(`max-object-size ${c.max_object_kb * 1024}`);
    return {
      listen: [`http-request cache-use ${name}`, `http-response cache-store ${name}`],
      sections: [{ kind: 'cache', name, lines }],
    };
  },
};
