import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls, { type SecureContext } from 'node:tls';

/** The TLS files of a ZooKeeper ensemble, read and checked once (at config load), for the TLS hook in tls.ts. */

export interface TlsMaterial {
  secureContext: SecureContext;
  /** The PEM files as read, for clients that build their own context (gRPC's, for etcd). */
  pem: { ca: Buffer; cert?: Buffer; key?: Buffer };
  /** Subjects and expiry of the CA and client certificates read, for logs. */
  ca: CertSummary[];
  client?: CertSummary;
}

export interface CertSummary {
  subject: string;
  validTo: Date;
}

/** Reads and checks the PEM files once; every error names the option and the file (and `label`, what they are for). */
export function loadTlsMaterial(opts: { caFile: string; certFile?: string; keyFile?: string }, label = 'ZooKeeper TLS'): TlsMaterial {
  if (!opts.certFile !== !opts.keyFile) throw new Error(`${label}: cert_file and key_file go together (a client certificate needs its key)`);
  const ca = read(label, 'ca_file', opts.caFile);
  const caCerts = pemCerts(label, 'ca_file', opts.caFile, ca);
  const cert = opts.certFile ? read(label, 'cert_file', opts.certFile) : undefined;
  const key = opts.keyFile ? read(label, 'key_file', opts.keyFile) : undefined;
  const client = cert && opts.certFile ? pemCerts(label, 'cert_file', opts.certFile, cert)[0] : undefined;
  let secureContext: SecureContext;
  try {
    secureContext = tls.createSecureContext({ ca, cert, key });
  } catch (e) {
    // A key that is not PEM, or is not the certificate's key ("key values mismatch").
    throw new Error(`${label}: ${opts.certFile ? `cert_file ${opts.certFile} / key_file ${opts.keyFile}` : `ca_file ${opts.caFile}`}: ${(e as Error).message}`);
  }
  const summary = (c: X509Certificate): CertSummary => ({ subject: c.subject.replace(/\n/g, ', '), validTo: new Date(c.validTo) });
  return { secureContext, pem: { ca, cert, key }, ca: caCerts.map(summary), client: client && summary(client) };
}

function read(label: string, option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${label}: cannot read ${option} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Every certificate in a PEM bundle; createSecureContext alone would ignore a CA file with none. */
function pemCerts(label: string, option: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new Error(`${label}: ${option} ${file} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`${label}: ${option} ${file}: not a valid certificate (${(e as Error).message})`);
    }
  });
}
