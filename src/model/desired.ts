import type { Server } from './server';
import type { ListenSpec } from './service';

/** One service as it should run: its listen section and its servers. */
export interface DesiredService {
  name: string;
  listen: ListenSpec;
  servers: Server[];
}

export interface PortConflict {
  name: string;
  port: number;
  holder: string;
  /** Why the port cannot be shared with the holder. */
  reason: 'taken' | 'two-defaults';
}

/**
 * Gives each port to one service, or to several `mode: http` services that share it
 * (each with its own `match`, at most one without: the default). A service already
 * running on the port keeps it (a new blob must not take a port away from live
 * traffic); otherwise the first name in order wins. The losers are returned so they
 * can be reported by name, with the service they lost to.
 */
export function assignPorts(
  candidates: readonly DesiredService[],
  runningPorts: ReadonlyMap<string, number>,
): { services: DesiredService[]; conflicts: PortConflict[] } {
  const sorted = [...candidates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Services already running on their port claim it first.
  const order = [...sorted.filter((s) => runningPorts.get(s.name) === s.listen.port), ...sorted.filter((s) => runningPorts.get(s.name) !== s.listen.port)];
  const holders = new Map<number, DesiredService[]>();
  const accepted = new Set<string>();
  const conflicts: PortConflict[] = [];
  for (const s of order) {
    const group = holders.get(s.listen.port) ?? [];
    const conflict = portConflict(group, s);
    if (conflict) {
      conflicts.push(conflict);
      continue;
    }
    holders.set(s.listen.port, [...group, s]);
    accepted.add(s.name);
  }
  return { services: sorted.filter((s) => accepted.has(s.name)), conflicts };
}

function portConflict(group: readonly DesiredService[], s: DesiredService): PortConflict | undefined {
  if (group.length === 0) return undefined;
  const shareable = (x: DesiredService) => x.listen.mode === 'http';
  if (!shareable(s) || !group.every(shareable)) {
    const holder = group.find((x) => !shareable(x)) ?? group[0];
    return { name: s.name, port: s.listen.port, holder: holder.name, reason: 'taken' };
  }
  const defaultHolder = group.find((x) => !x.listen.match);
  if (!s.listen.match && defaultHolder) return { name: s.name, port: s.listen.port, holder: defaultHolder.name, reason: 'two-defaults' };
  return undefined;
}
