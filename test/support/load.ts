import http from 'node:http';

export interface LoadResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  ms: number;
}

export interface Load {
  stop(): Promise<LoadResult>;
}

/**
 * Requests on fresh TCP connections, `concurrency` at a time, until stopped or
 * `maxMs` has passed (whichever is first): every connect, reset or bad status counts.
 */
export function startLoad(port: number, concurrency = 8, maxMs = 60_000): Load {
  const result: LoadResult = { ok: 0, failed: 0, errors: {}, ms: 0 };
  const t0 = Date.now();
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      const fail = (why: string) => {
        result.failed++;
        result.errors[why] = (result.errors[why] ?? 0) + 1;
        resolve();
      };
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? (result.ok++, resolve()) : fail(`HTTP ${res.statusCode}`)));
        res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && Date.now() - t0 < maxMs) await one();
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      result.ms = Date.now() - t0;
      return result;
    },
  };
}
