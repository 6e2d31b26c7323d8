import type { Config } from '../config/load';
import type { RuntimeClient } from '../haproxy/runtime-client';
import type { Supervisor } from '../haproxy/supervisor';
import type { Quiescence } from '../util/quiescence';
import { createServiceConfigSource } from '../service-config';
import type { ServiceConfigSource } from '../service-config/source';
import type { RuntimePath } from './runtime-path';
import type { ServiceTable } from './service-table';
import type { Logger } from '../log';
import { sameTarget } from '../zk/target';
import { sameEtcdTarget } from '../etcd/target';

/** The parts of a running agent that hold settings of their own. */
export interface SettingsHolders {
  reloadTimer: Quiescence;
  client?: RuntimeClient;
  supervisor?: Supervisor;
  runtimePath?: RuntimePath;
  services: ServiceTable;
}

/**
 * Settings that cannot change while the agent runs, with why. Only the admin socket:
 * the new HAProxy takes the listening sockets over through the old one, and HAProxy
 * processes still running would be left on a path nobody watches.
 */
const RESTART_ONLY: Array<[string, (c: Config) => unknown, string]> = [['haproxy.socket_path', (c) => c.haproxy.socket_path, 'the admin socket carries the listening-socket handoff']];

/**
 * The config to run with after a re-read proxymgr.yml (SIGHUP): restart-only keys keep
 * their running value. Returns it with the keys that need a restart, each with why.
 */
export function settleConfig(before: Config, after: Config): { config: Config; restartRequired: string[] } {
  const restartRequired: string[] = [];
  let config = after;
  for (const [key, get, why] of RESTART_ONLY) {
    if (get(before) === get(after)) continue;
    restartRequired.push(`${key} changed (${why}); restart proxymgr to apply it`);
    config = { ...config, haproxy: { ...config.haproxy, socket_path: before.haproxy.socket_path } };
  }
  return { config, restartRequired };
}

/**
 * Applies a settled config to every part that keeps a copy of a setting (call it once
 * the agent's own config is the new one). Settings that reach haproxy.cfg (global,
 * defaults, bind address, user, templates, state file) need no step here: they differ
 * from the last reload's and the agent reloads.
 */
export function applySettings(before: Config, config: Config, h: SettingsHolders): void {
  const r = config.reload;
  h.reloadTimer.configure({ quietMs: r.quiet_ms, maxWaitMs: r.max_wait_ms, minIntervalMs: r.min_interval_ms, jitterMs: r.jitter_ms });
  if (h.client) h.client.timeoutMs = config.runtime.timeout_ms;
  const x = config.haproxy;
  h.supervisor?.configure({ binary: x.path, configPath: x.config_path, readyTimeoutMs: x.ready_timeout_ms, stopTimeoutMs: x.stop_timeout_ms });
  if (before.runtime.drift_interval_ms !== config.runtime.drift_interval_ms) h.runtimePath?.rearmDrift();
  h.services.defaults = { dnsNameservers: config.dns.nameservers, zk: config.zk, etcd: config.etcdDir };
  h.services.sourceGraceMs = config.status.source_grace_ms;
  if (JSON.stringify(before.dns.nameservers) !== JSON.stringify(config.dns.nameservers)) h.services.restartWatchers('dns');
  // New servers, credentials (a rotated credentials file) or ACLs: the watchers connect again; their servers stay until they report.
  if (!before.zk.sameAs(config.zk)) h.services.restartWatchers('zookeeper');
  if (!before.etcdDir.sameAs(config.etcdDir)) h.services.restartWatchers('etcd');
}

/** The service-config source must be built again: its settings or its ZooKeeper or etcd target (credentials included) changed. */
export function sourceChanged(before: Config, after: Config): boolean {
  return (
    JSON.stringify(before.service_config) !== JSON.stringify(after.service_config) ||
    !sameTarget(before.zk.serviceConfig, after.zk.serviceConfig) ||
    !sameEtcdTarget(before.etcdDir.serviceConfig, after.etcdDir.serviceConfig)
  );
}

/**
 * A new service-config source in place of the old one: services it no longer lists are
 * dropped once it has listed. One that cannot list yet (NOAUTH with new credentials, down)
 * keeps every service until it can, and drops the leftovers then (`listed`).
 */
export async function replaceSource(old: ServiceConfigSource | undefined, services: ServiceTable, config: Config, log?: Logger): Promise<ServiceConfigSource> {
  await old?.stop();
  services.markAllStale();
  const source = createServiceConfigSource(config, log);
  await source.start(services);
  if (!source.problem?.()) services.dropStale();
  return source;
}
