import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AgentView, Override } from '../agent/view';
import type { Logger } from '../log';
import { isValidWeight } from '../model/server';
import { servicesView, withLive } from './services-view';
import type { Registry } from 'prom-client';
import { haproxyStats } from './live-stats';
import type { RuntimeClient } from '../haproxy/runtime-client';
import { statusOf, UnknownView } from './status';
import type { Dashboard } from './dashboard';

const MAX_BODY = 64 * 1024;

/** `/status`, `/metrics`, `/api/services[/NAME]` and the token-guarded server state and weight calls. */
export class ApiServer {
  private server?: Server;

  constructor(
    private readonly agent: AgentView,
    /** HAProxy's own view of each server comes from its runtime API. */
    private readonly client: RuntimeClient | undefined,
    private readonly log: Logger,
    private readonly token: string | undefined,
    private readonly metrics: Registry,
    private readonly dashboard?: Dashboard,
  ) {}

  async listen(hostPort: string): Promise<{ host: string; port: number }> {
    const idx = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, idx).replace(/^\[|\]$/g, '');
    const port = Number(hostPort.slice(idx + 1));
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => json(res, 500, { error: err.message }));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.log.info({ event: 'api_listening', host, port: addr.port }, 'HTTP API listening');
    return { host, port: addr.port };
  }

  async close(): Promise<void> {
    this.dashboard?.close();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const metrics = this.metrics;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && this.dashboard) {
      if (url.pathname === '/events') return this.dashboard.events(req, res);
      if (this.dashboard.serveFile(url.pathname, res)) return;
    }
    if (req.method === 'GET' && url.pathname === '/status') return this.status(req, res, url.searchParams.get('view') ?? undefined);
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.contentType });
      return void res.end(await metrics.metrics());
    }
    if (parts[0] !== 'api' || parts[1] !== 'services') return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    if (req.method === 'GET' && parts.length === 2) return json(res, 200, await this.services());
    if (req.method === 'GET' && parts.length === 3) {
      const one = (await this.services()).find((s) => s.name === parts[2]);
      return one ? json(res, 200, one) : json(res, 404, { error: `no service ${parts[2]}` });
    }
    if (req.method === 'POST' && parts.length === 6 && parts[3] === 'servers' && (parts[5] === 'state' || parts[5] === 'weight')) {
      if (!this.authorized(req)) return json(res, 401, { error: 'missing or wrong bearer token' });
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch (err) {
        return json(res, 400, { error: `body must be JSON: ${(err as Error).message}` });
      }
      const [service, server, what] = [parts[2], parts[4], parts[5]];
      let override: Override;
      if (what === 'state') {
        if (body.state !== 'ready' && body.state !== 'drain' && body.state !== 'maint') return json(res, 400, { error: 'state must be ready, drain or maint' });
        override = { state: body.state };
      } else {
        if (body.weight !== null && (typeof body.weight !== 'number' || !isValidWeight(body.weight))) return json(res, 400, { error: 'weight must be an integer 0..256 (or null to clear)' });
        override = { weight: body.weight === null ? undefined : (body.weight as number) };
      }
      if (!this.agent.setOverride(service, server, override)) return json(res, 404, { error: `no server ${server} in service ${service}` });
      return json(res, 200, { service, server, override: this.agent.overrideOf(service, server) ?? null });
    }
    return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
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

  /** The services view plus HAProxy's own view of each server: status and live counters from `show stat`. */
  private async services() {
    return withLive(servicesView(this.agent), await haproxyStats(this.client));
  }

  /** Constant-time comparison, so the token cannot be guessed byte by byte from timings. */
  private authorized(req: IncomingMessage): boolean {
    if (!this.token) return false;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const a = Buffer.from(m[1]);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
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
