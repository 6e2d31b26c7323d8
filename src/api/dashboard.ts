import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AgentView } from '../agent/view';
import { DashboardStream, MAX_WATCHED } from './dashboard-stream';
import type { EventFeed } from './feed';
import type { Reply } from './service-definitions';
import type { StatsSampler } from './stats-sampler';
import { serverName } from '../model/server';

// dist/api/ and src/api/ both sit two levels below the package root, where web/ is.
const WEB_DIR = join(__dirname, '..', '..', 'web');
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
// Every URL the page uses is relative, so it works behind a reverse proxy under a prefix.
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The page's files: index.html at `/`, and the scripts and style sheets beside it (read once; no subfolders, nothing else). */
function webFiles(): Map<string, string> {
  const files = new Map<string, string>([['/', 'index.html']]);
  for (const f of readdirSync(WEB_DIR)) if (/^[a-z0-9-]+\.(html|js|css)$/.test(f)) files.set(`/${f}`, f);
  return files;
}

/**
 * The browser dashboard: static files from web/, the `/events` stream, the watch call
 * and the history reads (docs/dashboard.md).
 */
export class Dashboard {
  private readonly files = webFiles();
  private readonly stream: DashboardStream;

  constructor(
    private readonly agent: AgentView,
    feed: EventFeed,
    private readonly sampler: StatsSampler,
    private readonly maxServerHistories: number,
  ) {
    this.stream = new DashboardStream(agent, sampler, feed);
  }

  /** Serves a dashboard file; false when `path` is not one. */
  serveFile(path: string, res: ServerResponse): boolean {
    const file = this.files.get(path);
    if (!file) return false;
    const body = readFileSync(join(WEB_DIR, file));
    res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.') + 1)], 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(body);
    return true;
  }

  /** `GET /events`: the snapshot, then what changes. */
  events(req: IncomingMessage, res: ServerResponse): void {
    this.stream.open(req, res);
  }

  /** `POST /events/STREAM/watch` with `{"services": [...]}`. */
  watch(stream: string, body: string): Reply {
    let services: unknown;
    try {
      services = (JSON.parse(body) as { services?: unknown })?.services;
    } catch (err) {
      return { status: 400, body: { error: `body must be JSON: ${(err as Error).message}` } };
    }
    if (!Array.isArray(services) || services.length > MAX_WATCHED || !services.every((s) => typeof s === 'string' && s.length <= 256)) {
      return { status: 400, body: { error: `services must be an array of at most ${MAX_WATCHED} service names` } };
    }
    return this.stream.watch(stream, services as string[]) ? { status: 204, body: null } : { status: 404, body: { error: 'no such stream (reconnect to /events)' } };
  }

  /** `GET /api/services/NAME/history` and `.../servers/SERVER/history`. */
  history(service: string, server?: string): Reply {
    if (!this.agent.status(service)) return { status: 404, body: { error: `no service ${service}` } };
    if (server === undefined) {
      const s = this.sampler.serviceHistory.series(service);
      if (s) return { status: 200, body: { ...s, kept: true } };
      return { status: 200, body: { kept: false, reason: 'HAProxy has not been read for this service yet', hour: null, day: null } };
    }
    const known = this.agent.desiredService(service)?.servers.some((s) => serverName(s) === server);
    if (!known) return { status: 404, body: { error: `no server ${server} in service ${service}` } };
    const s = this.sampler.serverHistory.series(`${service}/${server}`);
    if (s) return { status: 200, body: { ...s, kept: true } };
    const full = this.sampler.serverHistory.size >= this.maxServerHistories;
    const reason = full
      ? `no history kept: ${this.maxServerHistories} servers keep history (api.history_max_servers) and this one has been idle longer`
      : 'no traffic or errors seen yet: history starts with the first';
    return { status: 200, body: { kept: false, reason, hour: null, day: null } };
  }

  close(): void {
    this.stream.close();
  }
}
