import { connect } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

export interface ConnLoadResult {
  ok: number;
  failed: number;
  errors: Record<string, number>;
  ms: number;
  perSecond: number;
}

/**
 * New TCP connections as fast as `concurrency` loops allow, one HTTP/1.0 request on
 * each, until `stop()` or `maxMs`: a refused connect, a reset or an answer other than
 * 200 counts as failed. Raw sockets: the http module costs twice the CPU per connection.
 * `pauseMs` between two requests of a loop paces the load (a light, steady one) instead.
 */
export function connLoad(port: number, concurrency: number, maxMs: number, pauseMs = 0) {
  const result: ConnLoadResult = { ok: 0, failed: 0, errors: {}, ms: 0, perSecond: 0 };
  const t0 = performance.now();
  let stopped = false;
  const one = () =>
    new Promise<void>((resolve) => {
      let data = '';
      let done = false;
      const finish = (why?: string) => {
        if (done) return;
        done = true;
        if (why === undefined) result.ok++;
        else {
          result.failed++;
          result.errors[why] = (result.errors[why] ?? 0) + 1;
        }
        sock.destroy();
        resolve();
      };
      const sock = connect({ host: '127.0.0.1', port }, () => sock.write('GET / HTTP/1.0\r\n\r\n'));
      sock.setTimeout(5000, () => finish('TIMEOUT'));
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => finish(/^HTTP\/1\.[01] 200 /.test(data) ? undefined : data ? `status ${data.slice(9, 12)}` : 'EMPTY'));
      sock.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message));
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped && performance.now() - t0 < maxMs) {
      await one();
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    async stop(): Promise<ConnLoadResult> {
      stopped = true;
      await Promise.all(loops);
      result.ms = performance.now() - t0;
      result.perSecond = Math.round((result.ok + result.failed) / (result.ms / 1000));
      return result;
    },
  };
}

/** connLoad on its own event loop (a worker thread), for a bench that times events on the main one. */
export function connLoadInWorker(port: number, concurrency: number, maxMs: number, pauseMs = 0) {
  const worker = new Worker(join(__dirname, 'load-worker.js'), { workerData: { port, concurrency, maxMs, pauseMs } });
  return {
    async stop(): Promise<ConnLoadResult> {
      const result = new Promise<ConnLoadResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage('stop');
      const out = await result;
      await worker.terminate();
      return out;
    },
  };
}
