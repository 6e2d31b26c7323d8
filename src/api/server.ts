import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AgentView, Override } from '../agent/view';
import type { Config } from '../config/load';
import type { Logger } from '../log';
import { isValidWeight } from '../model/server';
import { servicesView, withLive } from './services-view';
import type { Registry } from 'prom-client';
import { liveStats } from './live-stats';
import { cacheView, cachedServices } from './cache-stats';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { statusOf, UnknownView } from './status';
import type { Dashboard } from './dashboard';
import { readiness } from './probes';
import { apiTokens, roleAllows, TokenSet, type Role } from './tokens';
import { createServiceStore } from '../service-config';
import type { ServiceStore } from '../service-config/store';
import type { RegistryNames } from '../config/registry-names';
import { precondition, ServiceDefinitions, summarize, type Reply } from './service-definitions';
import type { ApiTlsMaterial } from './tls';
import { TlsServing } from './tls-serving';

const MAX_BODY = 64 * 1024;

/** One mutating route: the role it needs and what it does with the request body. */
interface Mutation {
  need: Role;
  run(body: () => Promise<string>, req: IncomingMessage, change: Record<string, unknown>): Promise<Reply>;
}

/**
 * `/livez`, `/readyz`, `/status`, `/metrics`, `/api/services[/NAME]`, and the token-guarded
 * calls: server state and weight (role operate), services written through to the
 * service-config source (role admin). Every mutating call logs one `audit` line.
 */
export class ApiServer {
  private server?: Server;
  /** With `api.tls`: the HTTPS server and the certificate it serves now. */
  private tls?: TlsServing;
  private tokens: TokenSet;
  private readonly definitions: ServiceDefinitions;

  constructor(
    private readonly agent: AgentView,
    /** HAProxy's own view of each server comes from its runtime API. */
    private readonly client: RuntimeClient | undefined,
    private readonly log: Logger,
    /** The accepted tokens (`ApiServer.tokensOf`); a plain string is the one token `default`, role admin; undefined: none. */
    tokens: TokenSet | string | undefined,
    private readonly metrics: Registry,
    private readonly dashboard?: Dashboard,
    /** Where `PUT/DELETE /api/services/NAME` write (`ApiServer.storeOf`); without one those calls answer 501. */
    store?: ServiceStore,
    /** The ensembles and clusters a PUT blob may name (the loaded proxymgr.yml). */
    registries?: RegistryNames,
  ) {
    this.definitions = new ServiceDefinitions(store, registries);
    this.tokens = tokens instanceof TokenSet ? tokens : new TokenSet(tokens ? [{ name: 'default', secret: tokens, role: 'admin' }] : []);
  }

  /** The tokens `config.api` names (`token`/`token_env` as `default`, and `tokens`), problems logged by token name. */
  static tokensOf(config: Config, log: Logger): TokenSet {
    return apiTokens(config, log);
  }

  /** The service store for `config.service_config`. */
  static storeOf(config: Config): ServiceStore {
    return createServiceStore(config);
  }

  /** Replaces the accepted tokens at once (token rotation); calls in flight keep the identity they had. */
  setTokens(tokens: TokenSet): void {
    this.tokens = tokens;
    this.log.info({ event: 'api_tokens', tokens: tokens.names() }, `api: ${tokens.size} token(s) in force`);
  }

  /**
   * For SIGHUP: reads the tokens again (token files are re-read; environment variables are
   * the process's own and do not change), if `service_config` changed the store, and with
   * `api.tls` the certificate and key (re-read by loadConfig). The listen address stays.
   */
  reconfigure(config: Config): void {
    this.setTokens(apiTokens(config, this.log));
    this.definitions.reconfigure(config);
    // loadConfig read the files again: a renewed certificate is served from the next handshake on.
    if (config.apiTls) this.tls?.reload(config.apiTls, 'sighup');
  }

  /** Plain HTTP, or HTTPS only when `tls` is given (`config.apiTls`): nothing answers in clear text then. */
  async listen(hostPort: string, tls?: ApiTlsMaterial): Promise<{ host: string; port: number }> {
    const idx = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, idx).replace(/^\[|\]$/g, '');
    const port = Number(hostPort.slice(idx + 1));
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      this.route(req, res).catch((err: Error) => json(res, 500, { error: err.message }));
    };
    this.tls = tls && new TlsServing(tls, handle, this.log, this.metrics);
    this.server = this.tls?.server ?? createServer(handle);
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.tls?.watch();
    const scheme = this.tls ? (this.tls.mutual ? 'https+client-cert' : 'https') : 'http';
    this.log.info({ event: 'api_listening', host, port: addr.port, scheme, ...(this.tls && { certificate: this.tls.info }) }, `${this.tls ? 'HTTPS' : 'HTTP'} API listening`);
    return { host, port: addr.port };
  }

  async close(): Promise<void> {
    this.tls?.close();
    this.dashboard?.close();
    this.definitions.close();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const metrics = this.metrics;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    // A tab saying which services it expanded changes nothing but what its own stream carries: no token.
    if (this.dashboard && req.method === 'POST' && parts.length === 3 && parts[0] === 'events' && parts[2] === 'watch') {
      const r = this.dashboard.watch(parts[1], await readBody(req));
      return r.status === 204 ? void res.writeHead(204).end() : json(res, r.status, r.body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.mutate(req, res, url.pathname, parts);
    if (this.dashboard) {
      if (url.pathname === '/events') return this.dashboard.events(req, res);
      if (this.dashboard.serveFile(url.pathname, res)) return;
    }
    // The event loop answers: that is all liveness means.
    if (url.pathname === '/livez') return json(res, 200, { ok: true });
    if (url.pathname === '/readyz') {
      const r = readiness(this.agent);
      return json(res, r.ready ? 200 : 503, r);
    }
    if (url.pathname === '/status') return this.status(req, res, url.searchParams.get('view') ?? undefined);
    if (url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      return void res.end(await metrics.metrics());
    }
    if (parts[0] !== 'api' || parts[1] !== 'services') return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    if (parts.length === 2) return json(res, 200, await this.services());
    if (parts.length === 3) {
      const one = (await this.services()).find((s) => s.name === parts[2]);
      return one ? json(res, 200, one) : json(res, 404, { error: `no service ${parts[2]}` });
    }
    if (this.dashboard && parts.length === 4 && parts[3] === 'history') return reply(res, this.dashboard.history(parts[2]));
    if (this.dashboard && parts.length === 6 && parts[3] === 'servers' && parts[5] === 'history') return reply(res, this.dashboard.history(parts[2], parts[4]));
    if (parts.length === 4 && parts[3] === 'definition') {
      const r = await this.definitions.read(parts[2]);
      return json(res, r.status, r.body, r.headers);
    }
    return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }

  /** Which mutating route a request is, if any. */
  private mutation(method: string, parts: string[]): Mutation | undefined {
    if (parts[0] !== 'api' || parts[1] !== 'services') return undefined;
    if (method === 'POST' && parts.length === 6 && parts[3] === 'servers' && (parts[5] === 'state' || parts[5] === 'weight')) {
      const [service, server, what] = [parts[2], parts[4], parts[5] as 'state' | 'weight'];
      return { need: 'operate', run: (body, _req, change) => this.override(service, server, what, body, change) };
    }
    if (parts.length === 3 && method === 'PUT') return { need: 'admin', run: (body, req, change) => this.definitions.put(parts[2], body, precondition(req), change) };
    if (parts.length === 3 && method === 'DELETE') return { need: 'admin', run: (_body, req, change) => this.definitions.remove(parts[2], precondition(req), change) };
    return undefined;
  }

  /** Every call that is not a read: authenticated, authorized by role, and audited in one line whatever its outcome. */
  private async mutate(req: IncomingMessage, res: ServerResponse, path: string, parts: string[]): Promise<void> {
    const method = req.method ?? '?';
    const who = this.tokens.identify(req.headers.authorization);
    const change: Record<string, unknown> = {};
    let reply: Reply;
    try {
      const m = this.mutation(method, parts);
      if (!who) reply = { status: 401, body: { error: 'missing or unknown bearer token' } };
      else if (!m) reply = { status: 404, body: { error: `no route ${method} ${path}` } };
      else if (!roleAllows(who.role, m.need)) reply = { status: 403, body: { error: `token ${who.name} has role ${who.role}; this call needs ${m.need}` } };
      else reply = await m.run(() => readBody(req), req, change);
    } catch (err) {
      reply = { status: 500, body: { error: (err as Error).message } };
    }
    json(res, reply.status, reply.body, reply.headers);
    const error = reply.status >= 400 ? (reply.body as { error?: string }).error : undefined;
    this.log.info(
      { event: 'audit', token: who?.name ?? null, role: who?.role ?? null, client: req.socket.remoteAddress, ...clientCert(req), method, path, change, status: reply.status, ...(error && { error }) },
      `audit: ${method} ${path} by ${who?.name ?? 'no valid token'}: ${reply.status}`,
    );
  }

  private async override(service: string, server: string, what: 'state' | 'weight', body: () => Promise<string>, change: Record<string, unknown>): Promise<Reply> {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(await body()) as Record<string, unknown>;
    } catch (err) {
      return { status: 400, body: { error: `body must be JSON: ${(err as Error).message}` } };
    }
    let override: Override;
    if (what === 'state') {
      change.state = summarize(parsed?.state);
      if (parsed?.state !== 'ready' && parsed?.state !== 'drain' && parsed?.state !== 'maint') return { status: 400, body: { error: 'state must be ready, drain or maint' } };
      override = { state: parsed.state };
    } else {
      change.weight = summarize(parsed?.weight);
      if (parsed?.weight !== null && (typeof parsed?.weight !== 'number' || !isValidWeight(parsed.weight))) return { status: 400, body: { error: 'weight must be an integer 0..256 (or null to clear)' } };
      override = { weight: parsed.weight === null ? undefined : (parsed.weight as number) };
    }
    if (!this.agent.setOverride(service, server, override)) return { status: 404, body: { error: `no server ${server} in service ${service}` } };
    return { status: 200, body: { service, server, override: this.agent.overrideOf(service, server) ?? null } };
  }

  /** Lovebeat-style: four plain lines, or JSON (with the errors spelled out) when asked for. */
  private status(req: IncomingMessage, res: ServerResponse, view: string | undefined): void {
    let st;
    try {
      st = statusOf(this.agent.statuses(), this.agent.problems(), this.agent.configuration.status.views, view);
    } catch (err) {
      if (err instanceof UnknownView) return json(res, 404, { error: err.message });
      throw err;
    }
    if ((req.headers.accept ?? '').includes('application/json')) return json(res, 200, st);
    const { num_ok, num_error, has_error, good } = st;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(Object.entries({ num_ok, num_error, has_error, good }).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
  }

  /**
   * The services view plus HAProxy's own view of each server: status and live counters from
   * `show stat`. When HAProxy does not answer within 500 ms the last reading is served,
   * each service saying so in `haproxy_stats` (`stale`, and `age_ms` since that reading).
   */
  private async services() {
    const live = await liveStats(this.client);
    const haproxy_stats = { stale: live.stale, age_ms: live.at === undefined ? null : Date.now() - live.at };
    const cached = new Set(cachedServices(this.agent.desiredServices()));
    return withLive(servicesView(this.agent), live.servers).map((s) => ({
      ...s,
      haproxy_stats,
      // The object cache's lookups, hits and misses, for the services that run one.
      ...(cached.has(s.name) && { cache: cacheView(live.caches.get(s.name)) }),
    }));
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

/** Under mutual TLS, which machine called: its certificate's subject, in the audit line beside the token. */
function clientCert(req: IncomingMessage): { client_cert?: string } {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return {};
  const subject = socket.getPeerCertificate().subject as Record<string, string | string[]> | undefined;
  const cn = subject?.CN;
  return cn === undefined ? {} : { client_cert: Array.isArray(cn) ? cn.join(',') : cn };
}

function reply(res: ServerResponse, r: Reply): void {
  json(res, r.status, r.body, r.headers);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
