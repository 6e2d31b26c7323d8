import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AgentView } from '../agent/view';
import type { EventFeed, FeedEntry } from './feed';
import type { StatsSampler } from './live-stats';
import { servicesView, withLive } from './services-view';

// dist/api/ and src/api/ both sit two levels below the package root, where web/ is.
const WEB_DIR = join(__dirname, '..', '..', 'web');
const FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
};
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
const HEARTBEAT_MS = 15_000;
const CHANGE_DEBOUNCE_MS = 100;

/**
 * The browser dashboard: static files from web/, and `/events`, a Server-Sent Events
 * stream of the state (on every stats sample and, debounced, on every change), the
 * chart history and the decision feed.
 */
export class Dashboard {
  private readonly clients = new Set<ServerResponse>();
  private changeTimer?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onChanged = () => {
    if (this.changeTimer || this.clients.size === 0) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.broadcast('state', this.state());
    }, CHANGE_DEBOUNCE_MS);
  };
  private readonly onSample = () => {
    if (this.clients.size) this.broadcast('state', this.state());
  };
  private readonly onEntry = (e: FeedEntry) => this.broadcast('log', e);

  constructor(
    private readonly agent: AgentView,
    private readonly feed: EventFeed,
    private readonly sampler: StatsSampler,
  ) {
    agent.events.on('changed', this.onChanged);
    sampler.on('sample', this.onSample);
    feed.on('entry', this.onEntry);
    this.heartbeat = setInterval(() => {
      for (const res of this.clients) res.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Serves a dashboard file; false when `path` is not one. */
  serveFile(path: string, res: ServerResponse): boolean {
    const file = FILES[path];
    if (!file) return false;
    const body = readFileSync(join(WEB_DIR, file));
    res.writeHead(200, { 'content-type': TYPES[file.slice(file.lastIndexOf('.') + 1)], 'cache-control': 'no-cache', ...SECURITY_HEADERS });
    res.end(body);
    return true;
  }

  /** `GET /events`: the initial state, history and feed, then updates as they happen. */
  events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // nginx buffers responses by default, which would hold the stream back.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n`);
    this.send(res, 'hello', { intervalMs: this.sampler.intervalMs, history: this.sampler.series(), feed: this.feed.recent() });
    this.send(res, 'state', this.state());
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }

  close(): void {
    this.agent.events.off('changed', this.onChanged);
    this.sampler.off('sample', this.onSample);
    this.feed.off('entry', this.onEntry);
    clearInterval(this.heartbeat);
    clearTimeout(this.changeTimer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private state() {
    const services = withLive(servicesView(this.agent), this.sampler.latest);
    const latest = this.sampler.series();
    return {
      at: new Date().toISOString(),
      problems: this.agent.problems(),
      reloads: this.agent.stats.reloads,
      services: services.map((s) => ({ ...s, rate: latest[s.name]?.at(-1) ?? null })),
    };
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = frame(event, data);
    for (const res of this.clients) res.write(text);
  }

  private send(res: ServerResponse, event: string, data: unknown): void {
    res.write(frame(event, data));
  }
}

/** One Server-Sent Events message. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
