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
}

/**
 * Gives each port to one service. A service already running on the port keeps it
 * (a new blob must not take a port away from live traffic); otherwise the first
 * name in order wins. The losers are returned so they can be reported by name.
 */
export function assignPorts(
  candidates: readonly DesiredService[],
  runningPorts: ReadonlyMap<string, number>,
): { services: DesiredService[]; conflicts: PortConflict[] } {
  const sorted = [...candidates].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const holder = new Map<number, string>();
  for (const s of sorted) if (runningPorts.get(s.name) === s.listen.port) holder.set(s.listen.port, s.name);
  const services: DesiredService[] = [];
  const conflicts: PortConflict[] = [];
  for (const s of sorted) {
    const owner = holder.get(s.listen.port);
    if (owner === undefined) holder.set(s.listen.port, s.name);
    if (owner === undefined || owner === s.name) services.push(s);
    else conflicts.push({ name: s.name, port: s.listen.port, holder: owner });
  }
  return { services, conflicts };
}
