import type { ServiceStatus } from '../agent/service-table';
import type { Override } from '../agent/view';
import type { DesiredService } from '../model/desired';
import { serverName } from '../model/server';
import { isUnixAddress } from '../model/unix-socket';
import type { Figures } from './stats-sampler';

/** What the overview shows of a service besides its numbers (docs/dashboard.md). */
export interface ServiceRow {
  name: string;
  port: number | null;
  type: string | null;
  origin: string;
  health: 'ok' | 'degraded' | 'error';
  problems: string[];
  warnings: string[];
  servers: number;
  source_up: boolean;
  last_change: string | null;
  last_error: { message: string; at: string } | null;
}

/** up, requests per second, sessions, errors. */
export type ServiceNumbers = [number, number, number, number];
/** requests per second, sessions, errors. */
export type ServerNumbers = [number, number, number];

export interface ServerRow {
  name: string;
  /** An IP (a hostname's resolved one) or `unix:/path`. */
  address: string;
  /** null for a unix socket. */
  port: number | null;
  weight: number;
  state: string;
  override: Override | null;
  /** HAProxy's status; null while HAProxy does not run the server. */
  haproxy: string | null;
}

export function serviceRow(s: ServiceStatus): ServiceRow {
  return {
    name: s.name,
    port: s.port ?? null,
    type: s.type ?? null,
    origin: s.origin,
    health: !s.ok ? 'error' : s.warnings.length ? 'degraded' : 'ok',
    problems: s.problems,
    warnings: s.warnings,
    servers: s.servers,
    source_up: s.sourceUp,
    last_change: s.lastChange ?? null,
    last_error: s.lastError ?? null,
  };
}

export function serviceNumbers(f: Figures | undefined): ServiceNumbers | null {
  return f ? [f.up, f.rate, f.sessions, f.errors] : null;
}

export function serverNumbers(f: Figures | undefined): ServerNumbers | null {
  return f ? [f.rate, f.sessions, f.errors] : null;
}

/** The servers that should run, each with the operator's decision and HAProxy's status. */
export function serverRows(desired: DesiredService | undefined, overrideOf: (server: string) => Override | undefined, live: ReadonlyMap<string, Figures> | undefined): ServerRow[] {
  return (desired?.servers ?? []).map((srv) => {
    const name = serverName(srv);
    return {
      name,
      address: srv.address,
      port: isUnixAddress(srv.address) ? null : srv.port,
      weight: srv.weight ?? 1,
      state: srv.admin ?? 'ready',
      override: overrideOf(name) ?? null,
      haproxy: live?.get(name)?.status ?? null,
    };
  });
}

/**
 * What changed between what a reader was last sent (`sent`: key -> its JSON) and `now`;
 * `sent` is brought up to date. Rows are compared by their JSON, which is what goes out.
 */
export function diff<T>(sent: Map<string, string>, now: ReadonlyMap<string, T>, all = true): { changed: T[]; removed: string[] } {
  const changed: T[] = [];
  const removed: string[] = [];
  for (const [key, row] of now) {
    const text = JSON.stringify(row);
    if (sent.get(key) === text) continue;
    sent.set(key, text);
    changed.push(row);
  }
  if (all) {
    for (const key of [...sent.keys()]) {
      if (now.has(key)) continue;
      sent.delete(key);
      removed.push(key);
    }
  }
  return { changed, removed };
}
