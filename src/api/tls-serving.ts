import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import type { Logger } from '../log';
import { loadApiTls, registerExpiryGauge, type ApiTlsMaterial } from './tls';
import { watchTlsFiles } from './tls-watch';

/**
 * The API's HTTPS server and the certificate it serves now: swapped on SIGHUP (`reload`) or
 * when the files change on disk, with a broken set logged and the served one kept.
 */
export class TlsServing {
  readonly server: Server;
  /** Whether clients must present a certificate the client CA signed: fixed for the server's life (a changed `api.tls` restarts the API). */
  readonly mutual: boolean;
  private material: ApiTlsMaterial;
  private stops: Array<() => void> = [];

  constructor(
    material: ApiTlsMaterial,
    handle: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly log: Logger,
    metrics: Registry,
  ) {
    this.material = material;
    this.mutual = material.files.client_ca_file !== undefined;
    // With a client CA the handshake itself refuses a client without a certificate that CA signed; the token rules still apply after it.
    this.server = createServer({ ...material.contextOptions(), requestCert: this.mutual, rejectUnauthorized: this.mutual }, handle);
    // Every failed handshake (a plain HTTP client, no client certificate, a scanner) at info would be a line per attempt: debug.
    this.server.on('tlsClientError', (err: Error, socket: TLSSocket) => log.debug({ event: 'api_tls_refused', client: socket.remoteAddress, error: err.message }, 'api: TLS handshake failed'));
    this.stops.push(registerExpiryGauge(metrics, () => this.material.info));
    this.warnIfExpired();
  }

  get info() {
    return this.material.info;
  }

  /** Once listening: a certificate renewed in place (same paths) is taken without a SIGHUP too. */
  watch(): void {
    this.stops.push(watchTlsFiles(this.material.files, () => this.onFilesChanged()));
  }

  /** Serves `next` from the next handshake on (connections already open keep theirs); the same bytes change nothing. */
  reload(next: ApiTlsMaterial, reason: 'sighup' | 'file_changed'): void {
    if (next.sameAs(this.material)) return;
    this.server.setSecureContext(next.contextOptions());
    this.material = next;
    this.log.info({ event: 'api_tls_reloaded', reason, ...next.info }, `api: now serving certificate ${next.info.subject} (serial ${next.info.serial})`);
    this.warnIfExpired();
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  private onFilesChanged(): void {
    const { material, problems } = loadApiTls(this.material.files);
    if (material) return this.reload(material, 'file_changed');
    this.log.error({ event: 'api_tls_reload_failed', problems }, `api: keeping the served certificate: ${problems.join('; ')}`);
  }

  /** Served all the same (refusing to serve would not renew it), but said. */
  private warnIfExpired(): void {
    const info = this.material.info;
    if (Date.parse(info.validTo) <= Date.now()) this.log.warn({ event: 'api_tls_expired', ...info }, `api: the served certificate expired at ${info.validTo}`);
  }
}
