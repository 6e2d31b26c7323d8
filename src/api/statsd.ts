import StatsD from 'hot-shots';
import type { AgentView } from '../agent/view';
import type { Logger } from '../log';

export interface StatsdSettings {
  host: string;
  port: number;
  prefix: string;
  interval_ms: number;
}

/**
 * Pushes the agent's counters and timings to statsd (UDP, fire and forget: a missing
 * daemon costs nothing), and the service and server gauges every `interval_ms`.
 * Names: reloads.REASON, reload_failures.REASON, runtime.commands, runtime.updates,
 * timings reload, runtime_update, propagation.PATH; gauges services.ok|error, servers.SERVICE.
 */
export function startStatsd(agent: AgentView, settings: StatsdSettings, log: Logger): () => Promise<void> {
  const client = new StatsD({
    host: settings.host,
    port: settings.port,
    prefix: settings.prefix,
    errorHandler: (err) => log.debug({ event: 'statsd_error', error: err.message }, 'statsd send failed'),
  });
  const onReload = (e: { reason: string; ok: boolean; seconds: number }) => {
    client.increment(`${e.ok ? 'reloads' : 'reload_failures'}.${e.reason}`);
    if (e.ok) client.timing('reload', e.seconds * 1000);
  };
  const onRuntime = (e: { commands: number; seconds: number }) => {
    client.increment('runtime.updates');
    if (e.commands) client.increment('runtime.commands', e.commands);
    client.timing('runtime_update', e.seconds * 1000);
  };
  const onPropagated = (e: { path: string; seconds: number }) => client.timing(`propagation.${e.path}`, e.seconds * 1000);
  agent.events.on('reload', onReload);
  agent.events.on('runtime', onRuntime);
  agent.events.on('propagated', onPropagated);
  const gauges = () => {
    const st = agent.statuses();
    client.gauge('services.ok', st.filter((s) => s.ok).length);
    client.gauge('services.error', st.filter((s) => !s.ok).length);
    // statsd names are dot-separated: a service name's dots become underscores.
    for (const s of agent.desiredServices()) client.gauge(`servers.${s.name.replace(/\./g, '_')}`, s.servers.length);
  };
  const timer = setInterval(gauges, settings.interval_ms);
  timer.unref();
  log.info({ event: 'statsd', host: settings.host, port: settings.port, prefix: settings.prefix }, 'sending metrics to statsd');
  return () =>
    new Promise((resolve) => {
      clearInterval(timer);
      agent.events.off('reload', onReload);
      agent.events.off('runtime', onRuntime);
      agent.events.off('propagated', onPropagated);
      client.close(() => resolve());
    });
}
