import { connect } from 'node:net';

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
 */
export function connLoad(port: number, concurrency: number, maxMs: number) {
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
    while (!stopped && performance.now() - t0 < maxMs) await one();
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
