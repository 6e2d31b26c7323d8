import type { DesiredService } from '../model/desired';
import { serverAddress, serverName } from '../model/server';
import type { CompiledTemplates } from './templates';
import { sharedFrontend, type SharedFrontend } from '../model/routing';

/** The haproxy-wide values the templates need besides the services. */
export interface RenderSettings {
  socketPath: string;
  stateFile: string;
  bindAddress: string;
  hardStopAfter: string;
  global: readonly string[];
  defaults: readonly string[];
  /** The account HAProxy drops to after binding, if any. */
  runAs?: { user: string; group: string };
}

export interface RenderContext {
  run_as?: { user: string; group: string };
  socket_path: string;
  state_file: string;
  hard_stop_after: string;
  global: readonly string[];
  defaults: readonly string[];
  /** Ports shared by several `mode: http` services (or routed by `match`): one frontend each. */
  frontends: Array<SharedFrontend & { bind: string }>;
  services: Array<{
    name: string;
    port: number;
    bind: string;
    /** Behind a shared frontend: rendered as a `backend`, not a `listen` section. */
    shared: boolean;
    listen_options: readonly string[];
    servers: Array<{ name: string; address: string; weight: number | null; backup: boolean; options: string }>;
  }>;
}

export function renderContext(settings: RenderSettings, services: readonly DesiredService[]): RenderContext {
  const byPort = new Map<number, DesiredService[]>();
  for (const s of services) byPort.set(s.listen.port, [...(byPort.get(s.listen.port) ?? []), s]);
  const sharedPorts = new Set([...byPort].filter(([, group]) => group.length > 1 || group.some((s) => s.listen.match)).map(([port]) => port));
  const frontends = [...sharedPorts]
    .sort((a, b) => a - b)
    .map((port) => ({
      ...sharedFrontend(port, [...byPort.get(port)!].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => ({ name: s.name, match: s.listen.match }))),
      bind: `${settings.bindAddress}:${port}`,
    }));
  return {
    frontends,
    socket_path: settings.socketPath,
    state_file: settings.stateFile,
    hard_stop_after: settings.hardStopAfter,
    run_as: settings.runAs,
    global: settings.global,
    defaults: settings.defaults,
    services: [...services]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => ({
        name: s.name,
        port: s.listen.port,
        bind: `${settings.bindAddress}:${s.listen.port}`,
        shared: sharedPorts.has(s.listen.port),
        listen_options: s.listen.listenOptions,
        servers: s.servers.map((srv) => ({
          name: serverName(srv),
          address: serverAddress(srv),
          weight: srv.weight ?? null,
          backup: srv.backup === true,
          options: s.listen.serverOptions.join(' '),
        })),
      })),
  };
}

/** Renders haproxy.cfg. Pure: the same input gives the same text, so text equality means "no change". */
export function renderConfig(templates: CompiledTemplates, settings: RenderSettings, services: readonly DesiredService[]): string {
  return templates.main(renderContext(settings, services));
}

/**
 * Which proxy section each line of a rendered config belongs to (1-based line ->
 * section name), so a `haproxy -c` message `[file:LINE]` can be pinned on a service.
 */
export function sectionAtLine(config: string, line: number): string | undefined {
  const lines = config.split('\n');
  let section: string | undefined;
  for (let i = 0; i < Math.min(line, lines.length); i++) {
    const m = /^(listen|frontend|backend|global|defaults|peers|resolvers|userlist|program|cache|http-errors|ring|mailers)\b\s*(\S*)/.exec(lines[i]);
    if (m) section = m[1] === 'listen' || m[1] === 'frontend' || m[1] === 'backend' ? m[2] : undefined;
  }
  return section;
}
