import type { Registry } from 'prom-client';
import type { Agent } from '../agent/agent';
import { Dashboard } from '../api/dashboard';
import type { EventFeed } from '../api/feed';
import { StatsSampler } from '../api/live-stats';
import { ApiServer } from '../api/server';
import { servicesView } from '../api/services-view';
import { startStatsd } from '../api/statsd';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { writeFileAtomic } from '../util/atomic-write';

/** What `run` serves besides HAProxy: the HTTP API and dashboard, and the snapshot file. */
export interface Extras {
  stop(): Promise<void>;
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
  if (config.api) {
    const token = config.api.token ?? (config.api.token_env ? process.env[config.api.token_env] : undefined);
    if (!token && !config.api.tokens) log.warn({ event: 'api_no_token' }, 'api: no token configured; mutating calls are refused');
    // The charts cover the last 10 minutes.
    const sampler = new StatsSampler(agent, agent.client, config.api.stats_interval_ms, Math.ceil(600_000 / config.api.stats_interval_ms));
    sampler.start();
    const api = new ApiServer(agent, agent.client, log, config.api.tokens ? ApiServer.tokensOf(config, log) : token, metrics, new Dashboard(agent, feed, sampler), ApiServer.storeOf(config));
    await api.listen(config.api.listen);
    stops.push(() => sampler.stop(), () => api.close());
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
  };
}
