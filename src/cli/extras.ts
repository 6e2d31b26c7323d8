import type { Registry } from 'prom-client';
import type { Agent } from '../agent/agent';
import { Dashboard } from '../api/dashboard';
import type { EventFeed } from '../api/feed';
import { StatsSampler } from '../api/stats-sampler';
import { ApiServer } from '../api/server';
import { servicesView } from '../api/services-view';
import { startStatsd } from '../api/statsd';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { writeFileAtomic } from '../util/atomic-write';

/** What `run` serves besides HAProxy: the HTTP API and dashboard, and the snapshot file. */
export interface Extras {
  stop(): Promise<void>;
  /** Settings the API reads on the fly (tokens, token files, the service store, the TLS certificate and key) after a SIGHUP. */
  reconfigure(config: Config): void;
}

/** The parts of proxymgr.yml the extras read: a change in any of them restarts them (SIGHUP). */
export function extrasKey(config: Config): string {
  return JSON.stringify([config.api ?? null, config.snapshot ?? null]);
}

/** Statsd follows the agent's events: started before the agent, so that the first start counts. */
export function statsdFor(config: Config, agent: Agent, log: Logger): () => Promise<void> {
  return config.statsd ? startStatsd(agent, config.statsd, log) : async () => undefined;
}

/** Starts the API (and dashboard) and the snapshot writer that `config` asks for. */
export async function startExtras(config: Config, agent: Agent, log: Logger, feed: EventFeed, metrics: Registry): Promise<Extras> {
  const stops: Array<() => Promise<void> | void> = [];
  let api: ApiServer | undefined;
  if (config.api) {
    // Fail closed: a config loaded without its TLS files (apiTls: false) must never serve the API in clear text.
    if (config.api.tls && !config.apiTls) throw new Error('api.tls is set but its files were not loaded; refusing to serve the API without TLS');
    const { stats_interval_ms, history_max_servers } = config.api;
    const sampler = new StatsSampler(agent.client, stats_interval_ms, history_max_servers);
    sampler.start();
    api = new ApiServer(agent, agent.client, log, ApiServer.tokensOf(config, log), metrics, new Dashboard(agent, feed, sampler, history_max_servers), ApiServer.storeOf(config), config);
    await api.listen(config.api.listen, config.apiTls);
    const server = api;
    stops.push(() => sampler.stop(), () => server.close());
  }
  if (config.snapshot) {
    const { path, interval_ms } = config.snapshot;
    const write = () =>
      writeFileAtomic(path, `${JSON.stringify({ at: new Date().toISOString(), services: servicesView(agent) }, null, 2)}\n`).catch((err: Error) =>
        log.warn({ event: 'snapshot_failed', path, error: err.message }, 'could not write the state snapshot'),
      );
    await write();
    const timer = setInterval(() => void write(), interval_ms);
    timer.unref();
    stops.push(() => clearInterval(timer));
  }
  return {
    async stop() {
      for (const s of stops) await s();
    },
    reconfigure(next: Config) {
      api?.reconfigure(next);
    },
  };
}
