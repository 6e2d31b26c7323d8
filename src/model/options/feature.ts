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

/**
 * A file a typed key names (a CA, a certificate): the model stays pure, so it only says
 * which; the adapter that accepts a blob checks them (src/agent/service-files.ts).
 */
export interface FileNeed {
  /** The key, as errors name it: `tls.ca_file`. */
  field: string;
  path: string;
  /** `ca`: PEM certificate(s); `cert-and-key`: a certificate and its private key. */
  kind: 'ca' | 'cert-and-key';
}

/** What a typed key adds to a service: proxy lines, server tokens, sections and files of its own. */
export interface Compiled {
  listen?: string[];
  server?: string[];
  sections?: ProxySection[];
  files?: FileNeed[];
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
