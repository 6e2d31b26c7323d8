import type { DesiredService } from './desired';
import { sameServers } from './server';
import type { ListenSpec } from './service';

export interface ChangeSummary {
  added: string[];
  removed: string[];
  /** Port, listen_options or server_options changed. */
  reconfigured: string[];
  /** Only the server list changed. */
  servers: string[];
}

export function listenKey(spec: ListenSpec): string {
  return JSON.stringify([spec.port, spec.listenOptions, spec.serverOptions, spec.mode ?? null, spec.match ?? null, spec.sections ?? null, spec.bindTls ?? null]);
}

/** What differs between the services HAProxy runs and the desired ones, by service name. */
export function summarizeChanges(running: readonly DesiredService[], desired: readonly DesiredService[]): ChangeSummary {
  const before = new Map(running.map((s) => [s.name, s]));
  const after = new Map(desired.map((s) => [s.name, s]));
  const out: ChangeSummary = { added: [], removed: [], reconfigured: [], servers: [] };
  for (const [name, s] of after) {
    const old = before.get(name);
    if (!old) out.added.push(name);
    else if (listenKey(old.listen) !== listenKey(s.listen)) out.reconfigured.push(name);
    else if (!sameServers(old.servers, s.servers)) out.servers.push(name);
  }
  for (const name of before.keys()) if (!after.has(name)) out.removed.push(name);
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** A one-line reason for the log, e.g. "added: web; servers: api, db". */
export function describeChanges(c: ChangeSummary): string {
  const parts = (['added', 'removed', 'reconfigured', 'servers'] as const)
    .filter((k) => c[k].length)
    .map((k) => `${k}: ${c[k].join(', ')}`);
  return parts.join('; ') || 'no service change';
}

export function changedServices(c: ChangeSummary): string[] {
  return [...c.added, ...c.removed, ...c.reconfigured, ...c.servers].sort();
}

/** Why a reload happened, as one label (metrics): the weightiest cause wins. */
export type ReloadReason =
  | 'initial'
  | 'service_added'
  | 'service_removed'
  | 'service_reconfigured'
  | 'runtime_fallback'
  | 'servers'
  | 'settings'
  | 'haproxy_down';

export function reloadReason(o: { initial: boolean; changes: ChangeSummary; forced: boolean; shapeChanged: boolean }): ReloadReason {
  if (o.initial) return 'initial';
  if (o.changes.added.length) return 'service_added';
  if (o.changes.removed.length) return 'service_removed';
  if (o.changes.reconfigured.length) return 'service_reconfigured';
  if (o.forced) return 'runtime_fallback';
  // Server changes reach a reload only with the runtime path off (or riding along with the above).
  if (o.changes.servers.length && o.shapeChanged) return 'servers';
  if (o.shapeChanged) return 'settings';
  return 'haproxy_down';
}
