import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls, { type SecureContextOptions } from 'node:tls';
import { Gauge, type Registry } from 'prom-client';

/** `api.tls` with its paths resolved against proxymgr.yml's directory. */
export interface ApiTlsFiles {
  cert_file: string;
  key_file: string;
  client_ca_file?: string;
}

/** What the API serves and logs about its certificate. */
export interface CertInfo {
  subject: string;
  serial: string;
  validTo: string;
}

/**
 * The API's certificate, key and client CA as read (and checked) from their files. It prints
 * (JSON, logs) as its file names only: the key stays out of anything that is written down.
 */
export class ApiTlsMaterial {
  constructor(
    readonly files: ApiTlsFiles,
    private readonly cert: Buffer,
    private readonly key: Buffer,
    private readonly ca: Buffer | undefined,
    readonly info: CertInfo,
  ) {}

  /** For `https.createServer` and `setSecureContext`: TLS 1.2 at least, whatever Node's default. */
  contextOptions(): SecureContextOptions {
    return { cert: this.cert, key: this.key, ...(this.ca && { ca: this.ca }), minVersion: 'TLSv1.2' };
  }

  /** Same bytes in every file: nothing to reload. */
  sameAs(other: ApiTlsMaterial | undefined): boolean {
    return other !== undefined && other.fingerprint() === this.fingerprint();
  }

  private fingerprint(): string {
    const h = createHash('sha256');
    for (const b of [this.cert, this.key, this.ca ?? Buffer.alloc(0)]) h.update(String(b.length)).update(':').update(b);
    return h.digest('hex');
  }

  toJSON(): ApiTlsFiles {
    return this.files;
  }
}

/**
 * Reads and checks `api.tls`'s files: readable, PEM, the key the certificate's, the client CA
 * holding at least one certificate. Returns the material, or the problems, each naming its key
 * (`api.tls.key_file: ...`) the way proxymgr.yml's other problems do.
 */
export function loadApiTls(files: ApiTlsFiles): { material?: ApiTlsMaterial; problems: string[] } {
  const problems: string[] = [];
  const read = (key: keyof ApiTlsFiles): Buffer | undefined => {
    const file = files[key]!;
    try {
      return readFileSync(file);
    } catch (e) {
      problems.push(`api.tls.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return undefined;
    }
  };
  const certPem = read('cert_file');
  const keyPem = read('key_file');
  const caPem = files.client_ca_file === undefined ? undefined : read('client_ca_file');

  const cert = certPem && firstCert(certPem, 'cert_file', files.cert_file, problems);
  let key: KeyObject | undefined;
  if (keyPem) {
    try {
      key = createPrivateKey(keyPem);
    } catch (e) {
      problems.push(`api.tls.key_file: ${files.key_file} is not a usable PEM private key (an encrypted key is not supported): ${(e as Error).message}`);
    }
  }
  if (cert && key && !cert.checkPrivateKey(key)) problems.push(`api.tls.key_file: does not match api.tls.cert_file (${files.key_file} is not the key of ${files.cert_file})`);
  if (caPem) firstCert(caPem, 'client_ca_file', files.client_ca_file!, problems);
  if (problems.length || !certPem || !keyPem || !cert) return { problems };
  // The last word is OpenSSL's: what it refuses here it would refuse when serving.
  try {
    tls.createSecureContext({ cert: certPem, key: keyPem, ...(caPem && { ca: caPem }) });
  } catch (e) {
    return { problems: [`api.tls: ${files.cert_file} / ${files.key_file}: ${(e as Error).message}`] };
  }
  const info: CertInfo = { subject: cert.subject.replace(/\n/g, ', '), serial: cert.serialNumber, validTo: new Date(cert.validTo).toISOString() };
  return { material: new ApiTlsMaterial(files, certPem, keyPem, caPem, info), problems };
}

/** The first certificate of a PEM file (the leaf; the rest is its chain), or a problem naming the key. */
function firstCert(pem: Buffer, key: string, file: string, problems: string[]): X509Certificate | undefined {
  const block = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!block) {
    problems.push(`api.tls.${key}: ${file} holds no PEM certificate`);
    return undefined;
  }
  try {
    return new X509Certificate(block[0]);
  } catch (e) {
    problems.push(`api.tls.${key}: ${file}: not a valid certificate (${(e as Error).message})`);
    return undefined;
  }
}

export const EXPIRY_METRIC = 'proxymgr_api_certificate_expiry_timestamp_seconds';

/**
 * The expiry of the certificate the API serves now, read at scrape time, so an alert can
 * catch a renewal that did not happen (or was not picked up). Returns the function that
 * removes it (an API restarted without TLS has none).
 */
export function registerExpiryGauge(registry: Registry, served: () => CertInfo | undefined): () => void {
  // The registry outlives an API restarted by SIGHUP: the new server's gauge replaces the old one.
  registry.removeSingleMetric(EXPIRY_METRIC);
  new Gauge({
    name: EXPIRY_METRIC,
    help: 'when the certificate the API serves expires (Unix time)',
    registers: [registry],
    collect() {
      const info = served();
      if (info) this.set(Date.parse(info.validTo) / 1000);
    },
  });
  return () => registry.removeSingleMetric(EXPIRY_METRIC);
}
