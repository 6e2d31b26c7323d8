import type { DesiredService } from '../model/desired';
import { describeChanges, listenKey, reloadReason, type ChangeSummary, type ReloadReason } from '../model/changes';
import { sameServers, serverName, type Server } from '../model/server';

/**
 * How one service differs from what HAProxy runs, and the cheapest safe path to bring it
 * in line:
 *  - `none`: nothing to do;
 *  - `runtime`: only its servers differ; the runtime API changes them with no reload;
 *  - `reload`: its listen section differs (new, removed, reconfigured), its servers differ
 *    and the runtime path is off, or the runtime API cannot make the change.
 */
export type ServicePath =
  | { path: 'none' }
  | { path: 'runtime' }
  | { path: 'reload'; change: 'added' | 'removed' | 'reconfigured' | 'servers' }
  | { path: 'reload'; change: 'fallback'; reason: string };

export interface PathInput {
  /** What HAProxy runs for the service (listen section as of the last reload, servers as of the last runtime update). */
  running?: DesiredService;
  desired?: DesiredService;
  runtimeEnabled: boolean;
  /** The runtime API refused this service's change since the last reload (why); only a reload can apply it. */
  refused?: string;
}

/** Decides one service's path. Pure: no I/O, no clock. */
export function pathOf({ running, desired, runtimeEnabled, refused }: PathInput): ServicePath {
  if (!running && !desired) return { path: 'none' };
  if (!running) return { path: 'reload', change: 'added' };
  if (!desired) return { path: 'reload', change: 'removed' };
  if (running.listen !== desired.listen && listenKey(running.listen) !== listenKey(desired.listen)) return { path: 'reload', change: 'reconfigured' };
  if (refused !== undefined) return { path: 'reload', change: 'fallback', reason: refused };
  // The same array is the same list (server lists keep their identity while untouched).
  if (running.servers === desired.servers || sameServers(running.servers, desired.servers)) return { path: 'none' };
  if (!runtimeEnabled) return { path: 'reload', change: 'servers' };
  // HAProxy cannot turn a running server into a backup (or back) at runtime.
  const before = new Map(running.servers.map((s) => [serverName(s), s.backup === true]));
  const flipped = desired.servers.filter((s) => before.has(serverName(s)) && before.get(serverName(s)) !== (s.backup === true)).map((s) => serverName(s));
  if (flipped.length) return { path: 'reload', change: 'fallback', reason: `backup flag changed for ${flipped.join(', ')} (not changeable at runtime)` };
  // `balance first` follows server ids, fixed once a server runs: servers that stay must stay in order.
  if (desired.listen.declaredOrder && reordered(running.servers, desired.servers)) return { path: 'reload', change: 'fallback', reason: 'server order changed for balance first' };
  return { path: 'runtime' };
}

/** Whether the servers in both lists come in another order in `after` than in `before`. */
function reordered(before: readonly Server[], after: readonly Server[]): boolean {
  const position = new Map(before.map((s, i) => [serverName(s), i]));
  let last = -1;
  for (const s of after) {
    const i = position.get(serverName(s));
    if (i === undefined) continue;
    if (i < last) return true;
    last = i;
  }
  return false;
}

export type ReloadPath = Extract<ServicePath, { path: 'reload' }>;

export interface ReloadInput {
  /** No configuration has been applied yet (the first start). */
  initial: boolean;
  haproxyRunning: boolean;
  /** Global settings or templates differ from those of the last reload (proxymgr.yml re-read). */
  settingsChanged: boolean;
  /** Every service whose path is `reload`, by name. */
  pending: ReadonlyMap<string, ReloadPath>;
}

export type ReloadDecision =
  | { reload: false }
  | {
      reload: true;
      /** One label for metrics: the weightiest cause. */
      kind: ReloadReason;
      /** One line for the log, e.g. "added: web; runtime update failed: api (...)". */
      reason: string;
      /** The services the reload is for, sorted. */
      services: string[];
    };

/**
 * When does proxymgr reload? When a service is added, removed or reconfigured, when the
 * runtime API cannot apply a change (or is off), when global settings or templates
 * changed, when HAProxy is not running, and at the first start. Never for membership,
 * weight or address changes alone. Pure: no I/O, no clock.
 */
export function decideReload({ initial, haproxyRunning, settingsChanged, pending }: ReloadInput): ReloadDecision {
  if (!initial && haproxyRunning && !settingsChanged && pending.size === 0) return { reload: false };
  const changes: ChangeSummary = { added: [], removed: [], reconfigured: [], servers: [] };
  const fallbacks: string[] = [];
  const names = [...pending.keys()].sort();
  for (const name of names) {
    const p = pending.get(name)!;
    if (p.change === 'fallback') fallbacks.push(`${name} (${p.reason})`);
    else changes[p.change].push(name);
  }
  const kind = reloadReason({ initial, changes, forced: fallbacks.length > 0, shapeChanged: settingsChanged || changes.servers.length > 0 });
  const described = [changes.added, changes.removed, changes.reconfigured, changes.servers].some((l) => l.length) ? describeChanges(changes) : '';
  const reason = initial
    ? 'initial start'
    : [described, fallbacks.length ? `runtime update failed: ${fallbacks.join(', ')}` : ''].filter(Boolean).join('; ') ||
      (settingsChanged ? 'global settings or templates changed (proxymgr.yml, SIGHUP)' : 'HAProxy not running');
  return { reload: true, kind, reason, services: names };
}
