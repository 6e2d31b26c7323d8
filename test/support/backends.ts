import http from 'node:http';
import { freePort } from './net';

export interface Backends {
  ports: number[];
  /** `b<port>`: what each backend answers, so a test can tell who served a request. */
  id(port: number): string;
  close(): Promise<void>;
}

/** `n` HTTP servers on 127.0.0.1 that answer `b<port>`. Keep-alive is off so every request is a new connection through HAProxy. */
export async function startBackends(n: number): Promise<Backends> {
  const servers: http.Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const srv = http.createServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end(`b${port}\n`);
    });
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    servers.push(srv);
    ports.push(port);
  }
  return {
    ports,
    id: (port) => `b${port}`,
    close: () =>
      Promise.all(
        servers.map((s) => new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        })),
      ).then(() => undefined),
  };
}
