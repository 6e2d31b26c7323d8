import { Gauge, Registry } from 'prom-client';
import type { Agent } from '../agent/agent';
import { haproxyStats, type LiveServer } from './live-stats';

/** Prometheus metrics read from the agent when scraped (nothing to keep in sync). */
export function createMetrics(agent: Agent): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() { collect(this); } });
  gauge('proxymgr_reloads_total', 'HAProxy reloads (and the first start) done by the agent', [], (g) => g.set(agent.stats.reloads));
  gauge('proxymgr_failed_applies_total', 'changes that could not be applied (HAProxy kept the previous config)', [], (g) => g.set(agent.stats.failedApplies));
  gauge('proxymgr_runtime_updates_total', 'runtime API update rounds', [], (g) => g.set(agent.stats.runtimeUpdates));
  gauge('proxymgr_runtime_commands_total', 'runtime API commands sent', [], (g) => g.set(agent.stats.runtimeCommands));
  gauge('proxymgr_haproxy_restarts_total', 'HAProxy crashes the supervisor restarted from', [], (g) => g.set(agent.supervisor?.stats.crashes ?? 0));
  gauge('proxymgr_services', 'services by state', ['state'], (g) => {
    const st = agent.statuses();
    g.set({ state: 'ok' }, st.filter((s) => s.ok).length);
    g.set({ state: 'error' }, st.filter((s) => !s.ok).length);
  });
  gauge('proxymgr_servers', 'desired servers per service', ['service'], (g) => {
    g.reset();
    for (const s of agent.desiredServices()) g.set({ service: s.name }, s.servers.length);
  });
  // HAProxy's own per-server counters, read with `show stat` at scrape time.
  const live = [
    ['proxymgr_haproxy_server_sessions_current', 'current sessions per server (HAProxy scur)', 'sessions_current'],
    ['proxymgr_haproxy_server_sessions_total', 'sessions per server since HAProxy started (stot)', 'sessions_total'],
    ['proxymgr_haproxy_server_bytes_in_total', 'bytes in per server (bin)', 'bytes_in'],
    ['proxymgr_haproxy_server_bytes_out_total', 'bytes out per server (bout)', 'bytes_out'],
    ['proxymgr_haproxy_server_connection_errors_total', 'connection errors per server (econ)', 'connection_errors'],
    ['proxymgr_haproxy_server_response_errors_total', 'response errors per server (eresp)', 'response_errors'],
  ] as const;
  // One `show stat` per scrape, shared by every gauge below (prom-client collects them concurrently).
  let pending: Promise<Map<string, LiveServer>> | undefined;
  const stats = () => {
    if (!pending) {
      pending = haproxyStats(agent);
      void pending.finally(() => (pending = undefined));
    }
    return pending;
  };
  const labelsOf = (key: string) => ({ service: key.slice(0, key.indexOf('/')), server: key.slice(key.indexOf('/') + 1) });
  for (const [name, help, field] of live) {
    new Gauge({
      name,
      help,
      labelNames: ['service', 'server'],
      registers: [registry],
      async collect() {
        const st = await stats();
        this.reset();
        for (const [key, v] of st) this.set(labelsOf(key), v[field]);
      },
    });
  }
  new Gauge({
    name: 'proxymgr_haproxy_server_up',
    help: '1 when HAProxy reports the server UP',
    labelNames: ['service', 'server'],
    registers: [registry],
    async collect() {
      const st = await stats();
      this.reset();
      for (const [key, v] of st) this.set(labelsOf(key), v.status.startsWith('UP') || v.status === 'no check' ? 1 : 0);
    },
  });
  return registry;
}
