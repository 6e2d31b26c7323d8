import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentView } from '../agent/view';
import { ZkSession } from '../zk/session';
import { EtcdClient } from '../etcd/client';
import { liveStats, type LiveStats, type LiveServer } from './live-stats';
import { cachedServices, type CacheCounts } from './cache-stats';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { parseInfo } from '../haproxy/state-parse';
import { serverName } from '../model/server';

/** The package's version (package.json sits two levels up from both src/api and dist/api). */
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * prom-client's default metrics that `promtool check metrics` refuses: gauges named
 * `*_total` ("non-counter metrics should not have _total suffix"). Each is the sum of
 * the gauge of the same name without `_total` (by `type`), which stays.
 */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

// Runtime updates take milliseconds, reloads take tens to hundreds: one bucket set covers both.
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const PLAN_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];
/** A cache that has looked nothing up yet. */
const NO_LOOKUPS: CacheCounts = { lookups: 0, hits: 0 };

/**
 * Prometheus metrics. Counters and histograms follow the agent's events, so create
 * this before `agent.start()` to count the first start; gauges are read at scrape time.
 */
export function createMetrics(agent: AgentView, client: RuntimeClient | undefined): Registry {
  const registry = new Registry();
  const registers = [registry];
  // Process metrics (CPU, memory, open fds, event-loop lag, GC, heap), as every Node service exports them.
  collectDefaultMetrics({ register: registry });
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);

  const reloads = new Counter({ name: 'proxymgr_reloads_total', help: 'HAProxy reloads (and the first start) that went through, by reason', labelNames: ['reason'], registers });
  const reloadFailures = new Counter({ name: 'proxymgr_reload_failures_total', help: 'reloads HAProxy refused (the previous config kept running), by reason', labelNames: ['reason'], registers });
  const reloadSeconds = new Histogram({ name: 'proxymgr_reload_duration_seconds', help: 'render, haproxy -c, write and socket-handoff reload', buckets: SECONDS, registers });
  const runtimeUpdates = new Counter({ name: 'proxymgr_runtime_updates_total', help: 'runtime API update rounds, by trigger', labelNames: ['trigger'], registers });
  const runtimeCommands = new Counter({ name: 'proxymgr_runtime_commands_total', help: 'runtime API commands sent (add/del/set server ...)', registers });
  const runtimeSeconds = new Histogram({ name: 'proxymgr_runtime_update_duration_seconds', help: 'one runtime update: read state, plan, send the batch', buckets: SECONDS, registers });
  const planSeconds = new Histogram({ name: 'proxymgr_plan_duration_seconds', help: 'the pure planner alone', buckets: PLAN_SECONDS, registers });
  const propagation = new Histogram({
    name: 'proxymgr_propagation_seconds',
    help: 'from a source reporting a change to HAProxy running it, by path (runtime API or reload)',
    labelNames: ['path'],
    buckets: SECONDS,
    registers,
  });
  for (const path of ['runtime', 'reload']) propagation.zero({ path });
  const certUpdates = new Counter({
    name: 'proxymgr_cert_updates_total',
    help: 'certificate files of TLS binds that changed on disk: updated in HAProxy without a reload, or refused (the loaded one kept)',
    labelNames: ['result'],
    registers,
  });
  for (const result of ['updated', 'refused']) certUpdates.inc({ result }, 0);
  agent.events.on('cert', (e) => certUpdates.inc({ result: e.result }));
  let reloadsSeen = 0;
  agent.events.on('reload', (e) => {
    reloadsSeen++;
    (e.ok ? reloads : reloadFailures).inc({ reason: e.reason });
    if (e.ok) reloadSeconds.observe(e.seconds);
  });
  agent.events.on('runtime', (e) => {
    runtimeUpdates.inc({ trigger: e.trigger });
    runtimeCommands.inc(e.commands);
    runtimeSeconds.observe(e.seconds);
    if (e.commands) planSeconds.observe(e.planSeconds);
  });
  agent.events.on('propagated', (e) => propagation.observe({ path: e.path }, e.seconds));

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void | Promise<void>) =>
    new Gauge({ name, help, labelNames, registers, collect() { return collect(this); } });
  new Counter({
    name: 'proxymgr_haproxy_restarts_total',
    help: 'HAProxy crashes the supervisor restarted from',
    registers,
    collect() {
      this.reset();
      this.inc(agent.haproxy().restarts);
    },
  });
  gauge('proxymgr_haproxy_up', '1 while the supervised HAProxy runs and answers on its admin socket (0 when unresponsive)', [], (g) => {
    const h = agent.haproxy();
    g.set(h.running && !h.unresponsive ? 1 : 0);
  });
  new Counter({
    name: 'proxymgr_runtime_call_timeouts_total',
    help: 'runtime API exchanges (batches, stats reads, health probes) that hit their deadline',
    registers,
    collect() {
      this.reset();
      this.inc(client?.stats.timeouts ?? 0);
    },
  });
  gauge('proxymgr_agent_problems', 'problems of the agent as a whole (reload failing, HAProxy down, service config source down)', [], (g) => g.set(agent.problems().length));
  gauge('proxymgr_services', 'services by state: ok, error (bad definition, rejected, source down beyond grace), or degraded (source down within grace)', ['state'], (g) => {
    const st = agent.statuses();
    g.set({ state: 'ok' }, st.filter((s) => s.ok && !s.warnings.length).length);
    g.set({ state: 'degraded' }, st.filter((s) => s.ok && s.warnings.length).length);
    g.set({ state: 'error' }, st.filter((s) => !s.ok).length);
  });
  gauge('proxymgr_servers', 'desired servers per service and state (ready, drain, maint)', ['service', 'state'], (g) => {
    g.reset();
    for (const s of agent.desiredServices()) {
      const by = { ready: 0, drain: 0, maint: 0 };
      for (const srv of s.servers) by[srv.admin ?? 'ready']++;
      for (const [state, n] of Object.entries(by)) g.set({ service: s.name, state }, n);
    }
  });
  gauge('proxymgr_sticky_offline_held', 'servers sticky_offline holds in maint after a failed health check, until an operator sets them ready (services with none are left out)', ['service'], (g) => {
    g.reset();
    for (const s of agent.desiredServices()) {
      let held = 0;
      for (const srv of s.servers) if (srv.admin === 'maint' && agent.overrideOf(s.name, serverName(srv))?.reason === 'sticky_offline') held++;
      if (held) g.set({ service: s.name }, held);
    }
  });
  gauge('proxymgr_source_up', '1 while the service\'s watcher can read its source (ZooKeeper, etcd, DNS, file)', ['service', 'type'], (g) => {
    g.reset();
    for (const s of agent.statuses()) if (s.type) g.set({ service: s.name, type: s.type }, s.sourceUp ? 1 : 0);
  });
  gauge('proxymgr_zookeeper_connected', '1 while the ZooKeeper session to this connection string is connected', ['ensemble'], (g) => {
    g.reset();
    for (const z of ZkSession.all()) g.set({ ensemble: z.connectString }, z.isConnected ? 1 : 0);
  });
  gauge('proxymgr_etcd_connected', '1 while etcd answers the client for this endpoint set (its watches connected, its calls answered)', ['cluster'], (g) => {
    g.reset();
    for (const c of EtcdClient.all()) g.set({ cluster: c.target.name ?? c.target.endpoints.join(',') }, c.isConnected ? 1 : 0);
  });

  // HAProxy's own per-server counters: one `show stat` per scrape, shared by every gauge below
  // (prom-client collects them concurrently).
  // When HAProxy does not answer within 500 ms the last reading is exported, and the gauges below say so.
  let pending: Promise<LiveStats> | undefined;
  const reading = () => {
    if (!pending) {
      pending = liveStats(client);
      void pending.finally(() => (pending = undefined));
    }
    return pending;
  };
  const stats = async (): Promise<Map<string, LiveServer>> => (await reading()).servers;
  gauge('proxymgr_haproxy_stats_stale', '1 when the per-server HAProxy figures are the last reading, not a fresh one (HAProxy did not answer show stat within 500 ms)', [], async (g) => {
    g.set((await reading()).stale ? 1 : 0);
  });
  gauge('proxymgr_haproxy_stats_age_seconds', 'age of the per-server HAProxy figures exported (0 when fresh)', [], async (g) => {
    const r = await reading();
    g.set(r.at === undefined ? 0 : r.stale ? (Date.now() - r.at) / 1000 : 0);
  });
  const labelsOf = (key: string) => ({ service: key.slice(0, key.indexOf('/')), server: key.slice(key.indexOf('/') + 1) });
  // Current values are gauges.
  const current = [
    ['proxymgr_haproxy_server_sessions_current', 'current sessions per server (HAProxy scur)', (v: LiveServer) => v.sessions_current],
    ['proxymgr_haproxy_server_up', '1 when HAProxy reports the server UP (or not checked)', (v: LiveServer) => (v.status.startsWith('UP') || v.status === 'no check' ? 1 : 0)],
  ] as const;
  for (const [name, help, value] of current) {
    gauge(name, help, ['service', 'server'], async (g) => {
      const st = await stats();
      g.reset();
      for (const [key, v] of st) g.set(labelsOf(key), value(v));
    });
  }
  // HAProxy's cumulative counters are counters (`# TYPE ... counter`), so that rate() and
  // promtool treat them as such. prom-client has no "set" on a Counter: at scrape time each
  // is reset and incremented by HAProxy's value, which renders exactly that value. They
  // restart from 0 when a reload starts a new HAProxy process (a counter reset, which
  // rate() and increase() handle), and a server removed at runtime disappears with its series.
  const counters = [
    ['proxymgr_haproxy_server_sessions_total', 'sessions per server since the HAProxy process started (stot)', (v: LiveServer) => v.sessions_total],
    ['proxymgr_haproxy_server_bytes_in_total', 'bytes received from clients per server (bin)', (v: LiveServer) => v.bytes_in],
    ['proxymgr_haproxy_server_bytes_out_total', 'bytes sent to clients per server (bout)', (v: LiveServer) => v.bytes_out],
    ['proxymgr_haproxy_server_connection_errors_total', 'connection errors per server (econ)', (v: LiveServer) => v.connection_errors],
    ['proxymgr_haproxy_server_response_errors_total', 'response errors per server (eresp)', (v: LiveServer) => v.response_errors],
  ] as const;
  for (const [name, help, value] of counters) {
    new Counter({
      name,
      help,
      labelNames: ['service', 'server'],
      registers,
      async collect() {
        const st = await stats();
        this.reset();
        for (const [key, v] of st) this.inc(labelsOf(key), value(v));
      },
    });
  }

  // The object caches' counters, per service that runs one (same reading as the server figures).
  const cacheCounters = [
    ['proxymgr_haproxy_service_cache_lookups_total', 'object cache lookups per service (HAProxy cache_lookups)', (c: CacheCounts) => c.lookups],
    ['proxymgr_haproxy_service_cache_hits_total', 'object cache hits per service (HAProxy cache_hits)', (c: CacheCounts) => c.hits],
  ] as const;
  for (const [name, help, value] of cacheCounters) {
    new Counter({
      name,
      help,
      labelNames: ['service'],
      registers,
      async collect() {
        const { caches } = await reading();
        this.reset();
        for (const service of cachedServices(agent.desiredServices())) this.inc({ service }, value(caches.get(service) ?? NO_LOOKUPS));
      },
    });
  }

  // Which proxymgr, Node.js and HAProxy answer: `show info` once, again after a reload
  // (a reload may start an upgraded binary); the last version known stays when HAProxy is down.
  let haproxyVersion = 'unknown';
  let versionAt = -1;
  gauge('proxymgr_build_info', 'always 1; the labels say which proxymgr, Node.js and HAProxy versions run', ['version', 'node', 'haproxy'], async (g) => {
    if (client && versionAt !== reloadsSeen && agent.haproxy().running) {
      try {
        // A short deadline of its own: a scrape must answer whatever HAProxy does.
        const v = parseInfo(await client.query('show info', 500)).Version;
        if (v) {
          haproxyVersion = v;
          versionAt = reloadsSeen;
        }
      } catch {
        // HAProxy restarting: keep the last version known.
      }
    }
    g.reset();
    g.set({ version: VERSION, node: process.versions.node, haproxy: haproxyVersion }, 1);
  });
  return registry;
}
