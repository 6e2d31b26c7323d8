import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { loadedFromCertDir } from '../model/bind-tls';
import type { ServiceParse } from '../model/service';

/** A certificate file is a few KB; anything this large is not one (and is not read whole). */
const MAX_PEM_BYTES = 1024 * 1024;

/** A PEM file HAProxy can serve: its leaf certificate's identity, and the PEM blocks alone (the runtime payload). */
export type PemCheck =
  | {
      ok: true;
      /** Hex, upper case, as HAProxy's `show ssl cert` prints it. */
      serial: string;
      notAfter: string;
      /** SHA-1 of the leaf certificate, hex upper case without colons (`show ssl cert`'s "SHA1 FingerPrint"). */
      fingerprint: string;
      /** The PEM blocks without text around or between them, so no empty line can end a runtime payload early. */
      blocks: string;
    }
  | { ok: false; error: string };

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * Whether `text` holds what HAProxy's `crt` needs: a certificate (first, the leaf) and
 * the private key that matches it. An encrypted key is refused: HAProxy would ask for a
 * passphrase nobody can type.
 */
export function checkPem(text: string): PemCheck {
  const blocks = [...text.matchAll(BLOCK)].map((m) => ({ kind: m[1], pem: m[0].replace(/\r\n/g, '\n') }));
  const certs = blocks.filter((b) => b.kind === 'CERTIFICATE');
  const keys = blocks.filter((b) => /(^|\s)PRIVATE KEY$/.test(b.kind));
  if (certs.length === 0) return { ok: false, error: 'no certificate (PEM "BEGIN CERTIFICATE" block)' };
  if (keys.length === 0) return { ok: false, error: 'no private key (the file must hold the certificate and its key)' };
  if (keys.length > 1) return { ok: false, error: 'more than one private key' };
  if (keys[0].kind === 'ENCRYPTED PRIVATE KEY') return { ok: false, error: 'the private key is encrypted (HAProxy cannot load it unattended)' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0].pem);
  } catch (err) {
    return { ok: false, error: `unreadable certificate: ${(err as Error).message}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keys[0].pem))) return { ok: false, error: 'the private key does not match the certificate' };
  } catch (err) {
    return { ok: false, error: `unreadable private key: ${(err as Error).message}` };
  }
  return {
    ok: true,
    serial: cert.serialNumber.toUpperCase(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint: cert.fingerprint.replace(/:/g, '').toUpperCase(),
    blocks: blocks.map((b) => b.pem).join('\n'),
  };
}

/** `checkPem` of a file on disk; an unreadable, odd or oversized file is an error too. */
export function readPemFile(path: string): PemCheck {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, error: 'not a regular file' };
    if (st.size > MAX_PEM_BYTES) return { ok: false, error: `larger than ${MAX_PEM_BYTES} bytes` };
    return checkPem(readFileSync(path, 'utf8'));
  } catch (err) {
    return { ok: false, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** The files HAProxy loads from a `crt` directory, as full paths (HAProxy's names for them), sorted. */
export function certDirFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => loadedFromCertDir(e.name) && (e.isFile() || e.isSymbolicLink()))
    .map((e) => `${dir}/${e.name}`)
    .sort();
}

/** Problems with the files `bind_tls` names, each as `field: path: problem`. */
export function bindCertProblems(certFiles: readonly string[] | undefined, certDir: string | undefined): string[] {
  const out: string[] = [];
  (certFiles ?? []).forEach((f, i) => {
    const c = readPemFile(f);
    if (!c.ok) out.push(`bind_tls.cert_files[${i}]: ${f}: ${c.error}`);
  });
  if (certDir !== undefined) {
    let files: string[];
    try {
      if (!statSync(certDir).isDirectory()) return [...out, `bind_tls.cert_dir: ${certDir}: not a directory`];
      files = certDirFiles(certDir);
    } catch (err) {
      return [...out, `bind_tls.cert_dir: ${certDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`];
    }
    // HAProxy refuses a bind whose directory holds no certificate.
    if (files.length === 0) out.push(`bind_tls.cert_dir: ${certDir}: holds no certificate file`);
    for (const f of files) {
      const c = readPemFile(f);
      if (!c.ok) out.push(`bind_tls.cert_dir: ${f}: ${c.error}`);
    }
  }
  return out;
}

/**
 * The impure half of validating `bind_tls`, run where a blob is accepted, after the pure
 * parse: the files must exist and each hold a certificate and its key, or the service is
 * refused (naming the field and file) rather than failing `haproxy -c` later.
 */
export function checkBindCertFiles(parsed: ServiceParse): ServiceParse {
  if (!parsed.ok || !parsed.service.bindTls) return parsed;
  const b = parsed.service.bindTls;
  const problems = bindCertProblems(b.certFiles, b.certDir);
  return problems.length ? { ok: false, errors: problems } : parsed;
}
