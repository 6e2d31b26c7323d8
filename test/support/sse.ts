import http from 'node:http';

export interface SseMessage {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** When it arrived (performance.now()). */
  t: number;
}

/** A Server-Sent Events reader for tests: every message parsed, and the bytes received. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  bytes = 0;
  private req?: http.ClientRequest;
  private res?: http.IncomingMessage;
  private waiters: Array<() => void> = [];

  static async open(url: string): Promise<SseClient> {
    const c = new SseClient();
    await new Promise<void>((resolve, reject) => {
      c.req = http.get(url, (res) => {
        c.res = res;
        if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          c.bytes += Buffer.byteLength(chunk);
          buf += chunk;
          let idx;
          while ((idx = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, idx);
            buf = buf.slice(idx + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data !== undefined) c.messages.push({ event, data: JSON.parse(data), t: performance.now() });
          }
          for (const w of c.waiters.splice(0)) w();
        });
        resolve();
      });
      c.req.on('error', reject);
    });
    return c;
  }

  /** The first message from index `from` on that `pred` accepts. */
  async next(pred: (m: SseMessage) => boolean, timeoutMs = 5000, from = 0): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such event within ${timeoutMs} ms; got: ${this.messages.slice(from).map((m) => m.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.res?.destroy();
    this.req?.destroy();
  }
}
