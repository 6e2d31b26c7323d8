import type { AgentView } from '../agent/view';
import { serverName } from '../model/server';
import { isUnixAddress } from '../model/unix-socket';
import { offlineNote } from '../plan/sticky-offline';

export type ServiceView = ReturnType<typeof servicesView>[number];

/** Each service with its problems and its servers as they should run (state, weight, operator override). */
export function servicesView(agent: AgentView) {
  const desired = new Map(agent.desiredServices().map((s) => [s.name, s]));
  return agent.statuses().map((s) => ({
    ...s,
    servers: (desired.get(s.name)?.servers ?? []).map((srv) => ({
      name: serverName(srv),
      address: srv.address,
      // A unix socket (address unix:/path) has no port.
      port: isUnixAddress(srv.address) ? null : srv.port,
      weight: srv.weight ?? 1,
      state: srv.admin ?? 'ready',
      override: agent.overrideOf(s.name, serverName(srv)) ?? null,
      // Only for a server sticky_offline holds out (absent from the JSON otherwise): why, and how to bring it back.
      offline: offlineNote(agent.overrideOf(s.name, serverName(srv))),
    })),
  }));
}

/** The view plus HAProxy's own view of each server (`backend/server` -> status and counters), null when it has none. */
export function withLive<T>(view: ServiceView[], live: ReadonlyMap<string, T>) {
  return view.map((s) => ({
    ...s,
    servers: s.servers.map((srv) => ({ ...srv, haproxy: live.get(`${s.name}/${srv.name}`) ?? null })),
  }));
}
