import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface HttpsOptions {
  /** PEM file of the CA to trust (the system's otherwise). */
  ca?: string;
  /** Client certificate and key files, for an API that asks for one. */
  cert?: string;
  key?: string;
  /** The newest TLS version the client offers. */
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  method?: string;
  token?: string;
  body?: unknown;
}

export interface HttpsReply {
  status: number;
  text: string;
  /** The serial of the certificate the server presented, as `openssl x509 -serial` prints it (no leading zeros). */
  serial: string;
}

/** One request on a connection of its own (a new handshake each time, so a reloaded certificate shows at once). */
export function httpsCall(url: string, o: HttpsOptions = {}): Promise<HttpsReply> {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: o.method ?? 'GET',
        agent: false,
        timeout: 10_000,
        maxVersion: o.maxVersion,
        ca: o.ca && readFileSync(o.ca),
        cert: o.cert && readFileSync(o.cert),
        key: o.key && readFileSync(o.key),
        headers: { accept: 'application/json', ...(o.token && { authorization: `Bearer ${o.token}` }), ...(body && { 'content-type': 'application/json' }) },
      },
      (res) => {
        const serial = normalSerial((res.socket as TLSSocket).getPeerCertificate().serialNumber ?? '');
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, serial }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The error a call ends with (undefined: it was answered). */
export async function failureOf(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (e) {
    return `${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.trim();
  }
}

export function normalSerial(s: string): string {
  return s.toUpperCase().replace(/^0+/, '');
}

/** The first message of a Server-Sent Events stream over HTTPS (its event name), then the stream is closed. */
export function firstSseEvent(url: string, ca: string, extra: { cert?: string; key?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { agent: false, ca: readFileSync(ca), cert: extra.cert && readFileSync(extra.cert), key: extra.key && readFileSync(extra.key), headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${url}: ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        const m = /^event: (\S+)$/m.exec(buf);
        if (m && buf.includes('\n\n')) {
          req.destroy();
          resolve(m[1]);
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no event within 10 s')));
    req.on('error', reject);
  });
}
