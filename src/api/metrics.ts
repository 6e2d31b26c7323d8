import { Counter, Gauge, Registry } from 'prom-client';
import type { Agent } from '../agent/agent';

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
  void Counter;
  return registry;
}
