import type { z } from 'zod';

/**
 * A top-level HAProxy section that belongs to one service (its `cache`, its `fcgi-app`).
 * It is rendered right after the service's own proxy section, so a `haproxy -c` alert
 * inside it is pinned on that service, and it comes and goes with the service.
 */
export interface ProxySection {
  kind: 'cache' | 'fcgi-app';
  name: string;
  lines: string[];
}

/** What a typed key adds to a service: proxy lines, server tokens and sections of its own. */
export interface Compiled {
  listen?: string[];
  server?: string[];
  sections?: ProxySection[];
}

/**
 * One group of typed service keys (pooling, cache, ...): its zod keys, the rules that
 * span several keys (`mode: http` needed, ...) and the HAProxy it compiles to. Pure.
 */
export interface Feature<K extends z.ZodRawShape = z.ZodRawShape> {
  keys: K;
  /** Errors as `key: message`, for a blob that passed the keys' own schemas. */
  problems?(o: Readonly<Record<string, unknown>>): string[];
  /** `service` is the service's name, for the names of sections it owns. */
  compile(o: Readonly<Record<string, unknown>>, service: string): Compiled;
}

/** `key: needs "mode": "http"` when the blob sets `key` without HTTP mode. */
export function needsHttp(o: Readonly<Record<string, unknown>>, ...keys: string[]): string[] {
  return o.mode === 'http' ? [] : keys.filter((k) => o[k] !== undefined).map((k) => `${k}: needs "mode": "http"`);
}
