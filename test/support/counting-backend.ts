import http from 'node:http';
import { freePort } from './net';

export interface CountingBackend {
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  /** HTTP requests answered so far (health checks included). */
  requests: number;
  reset(): void;
  close(): Promise<void>;
}

/**
 * An HTTP server on 127.0.0.1 that keeps connections alive and counts what it gets: what
 * a pool or a cache in front of it saves shows in its counts. `cacheControl` is sent
 * with every response (e.g. `max-age=60` makes them cacheable).
 */
export async function startCountingBackend(opts: { cacheControl?: string } = {}): Promise<CountingBackend> {
  const port = await freePort();
  const body = `b${port}\n`;
  const srv = http.createServer((_req, res) => {
    b.requests++;
    if (opts.cacheControl) res.setHeader('cache-control', opts.cacheControl);
    res.setHeader('content-type', 'text/plain');
    res.end(body);
  });
  // Longer than any idle pool delay a test sets: the pool, not the server, decides when to close.
  srv.keepAliveTimeout = 60_000;
  srv.on('connection', () => b.connections++);
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  const b: CountingBackend = {
    port,
    connections: 0,
    requests: 0,
    reset() {
      b.connections = 0;
      b.requests = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
  return b;
}

/** A GET of `path` on a new client connection: the status and the body. */
export function getFresh(port: number, timeoutMs = 10_000, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
