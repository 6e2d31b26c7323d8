import { isIP } from 'node:net';
import type { DesiredService } from '../model/desired';
import { PLACEHOLDER_SERVER, serverAddress, serverIdAt, serverName } from '../model/server';
import type { CompiledTemplates } from './templates';
import { sharedFrontend, type SharedFrontend } from '../model/routing';
import { bindOptions } from '../model/bind-tls';

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
  /** haproxy.prometheus_listen: IP:port of a frontend serving HAProxy's Prometheus exporter. */
  prometheusListen?: string;
}

export interface RenderContext {
  run_as?: { user: string; group: string };
  prometheus_listen?: string;
  socket_path: string;
  state_file: string;
  hard_stop_after: string;
  global: readonly string[];
  defaults: readonly string[];
  /** Ports shared by several `mode: http` services (or routed by `match`): one frontend each. */
  frontends: Array<SharedFrontend & { bind: string; bind_options: string }>;
  services: Array<{
    name: string;
    port: number;
    bind: string;
    /**
     * What follows the address on the `bind` line (`ssl crt ... alpn ...`), empty without
     * `bind_tls`. A template overriding service.hbs or frontend.hbs must render it.
     */
    bind_options: string;
    /** Behind a shared frontend: rendered as a `backend`, not a `listen` section. */
    shared: boolean;
    listen_options: readonly string[];
    /** The service's own `cache` / `fcgi-app` sections, rendered after its proxy section. */
    sections: ReadonlyArray<{ kind: string; name: string; lines: readonly string[] }>;
    servers: Array<{
      name: string;
      address: string;
      weight: number | null;
      backup: boolean;
      /** An operator's maint: HAProxy starts the server in maintenance, before it takes traffic. */
      disabled: boolean;
      options: string;
      /** `balance first` only: the server's `id`, in the declared order (HAProxy picks the lowest first). */
      id?: number;
    }>;
  }>;
}

export type ServiceContext = RenderContext['services'][number];

/**
 * A `bind` address. HAProxy 2.6 would read `::1:8080` too (the last colon separates the
 * port), but `[::1]:8080` cannot be misread, by HAProxy or by a person: `:::8080` is `[::]:8080`.
 */
export function bindSpec(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Ports shared by several `mode: http` services (or routed by `match`): each gets a frontend. */
export function sharedPortsOf(services: readonly DesiredService[]): Map<number, DesiredService[]> {
  const byPort = new Map<number, DesiredService[]>();
  for (const s of services) {
    const group = byPort.get(s.listen.port);
    if (group) group.push(s);
    else byPort.set(s.listen.port, [s]);
  }
  for (const [port, group] of byPort) if (group.length === 1 && !group[0].listen.match) byPort.delete(port);
  return byPort;
}

/** Everything but the services: global, defaults and the shared frontends. */
export function headContext(settings: RenderSettings, shared: ReadonlyMap<number, DesiredService[]>): RenderContext {
  const frontends = [...shared.keys()]
    .sort((a, b) => a - b)
    .map((port) => ({
      ...sharedFrontend(port, [...shared.get(port)!].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => ({ name: s.name, match: s.listen.match }))),
      bind: bindSpec(settings.bindAddress, port),
      // Only the default service may set TLS for a shared port (bindTlsProblems refuses it with a match).
      bind_options: bindOptions(shared.get(port)!.find((s) => !s.listen.match)?.listen.bindTls),
    }));
  return {
    frontends,
    socket_path: settings.socketPath,
    state_file: settings.stateFile,
    hard_stop_after: settings.hardStopAfter,
    run_as: settings.runAs,
    prometheus_listen: settings.prometheusListen,
    global: settings.global,
    defaults: settings.defaults,
    services: [],
  };
}

export function serviceContext(settings: RenderSettings, s: DesiredService, shared: boolean): ServiceContext {
  const options = s.listen.serverOptions.join(' ');
  const servers: ServiceContext['servers'] = s.servers.map((srv, i) => ({
    name: serverName(srv),
    address: serverAddress(srv),
    weight: srv.weight ?? null,
    backup: srv.backup === true,
    disabled: srv.admin === 'maint',
    options,
    ...(s.listen.declaredOrder && { id: serverIdAt(i) }),
  }));
  // An fcgi-app needs a FastCGI server to pass `haproxy -c`, and HAProxy loads a server's
  // CA and certificate files only from the config: see PLACEHOLDER_SERVER.
  if (servers.length === 0 && (s.listen.sections?.some((x) => x.kind === 'fcgi-app') || namesFiles(options))) {
    servers.push({ name: PLACEHOLDER_SERVER, address: '127.0.0.1:1', weight: null, backup: false, disabled: true, options });
  }
  return {
    name: s.name,
    port: s.listen.port,
    bind: bindSpec(settings.bindAddress, s.listen.port),
    bind_options: bindOptions(s.listen.bindTls),
    shared,
    listen_options: s.listen.listenOptions,
    sections: s.listen.sections ?? [],
    servers,
  };
}

/**
 * Server tokens that name a file HAProxy must have loaded before `add server` may use it
 * (2.6 refuses a `ca-file`, `crt` or `crl-file` it did not load at start: docs/backend-tls.md).
 */
function namesFiles(serverOptions: string): boolean {
  return /(^|\s)(ca-file|crt|crl-file)\s/.test(serverOptions);
}

export const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function renderContext(settings: RenderSettings, services: readonly DesiredService[]): RenderContext {
  const shared = sharedPortsOf(services);
  return {
    ...headContext(settings, shared),
    services: [...services].sort(byName).map((s) => serviceContext(settings, s, shared.has(s.listen.port))),
  };
}

/** Renders haproxy.cfg. Pure: the same input gives the same text, so text equality means "no change". */
export function renderConfig(templates: CompiledTemplates, settings: RenderSettings, services: readonly DesiredService[]): string {
  return templates.main(renderContext(settings, services));
}

/**
 * Which proxy section each line of a rendered config belongs to (1-based line ->
 * section name), so a `haproxy -c` message `[file:LINE]` can be pinned on a service.
 * A `cache` or `fcgi-app` section keeps the proxy before it: a service's own sections
 * are rendered right after its proxy section.
 */
export function sectionAtLine(config: string, line: number): string | undefined {
  const lines = config.split('\n');
  let section: string | undefined;
  for (let i = 0; i < Math.min(line, lines.length); i++) {
    const m = /^(listen|frontend|backend|global|defaults|peers|resolvers|userlist|program|cache|fcgi-app|http-errors|ring|mailers)\b\s*(\S*)/.exec(lines[i]);
    if (!m || m[1] === 'cache' || m[1] === 'fcgi-app') continue;
    section = m[1] === 'listen' || m[1] === 'frontend' || m[1] === 'backend' ? m[2] : undefined;
  }
  return section;
}
