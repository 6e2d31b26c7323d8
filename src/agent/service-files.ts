import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';
import type { FileNeed } from '../model/options/feature';

/**
 * The door check of the files a service blob names (`tls.ca_file`, `tls.client_cert`):
 * each exists, is readable, and holds what HAProxy will want from it. The model only
 * names the files (it is pure); this runs where a blob is accepted, after it parsed,
 * so a bad file disables that one service with an error naming the field, instead of
 * failing `haproxy -c` later with an alert that names only a path.
 *
 * Reads are synchronous: a few small files, once per blob change or retry.
 */

/** Larger than any CA bundle a system ships (about 200 KB); a mistaken path to a big file is refused unread. */
const MAX_BYTES = 4 * 1024 * 1024;

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Problems as `field: path: what`, empty when every file is fine. */
export function checkServiceFiles(files: readonly FileNeed[] | undefined): string[] {
  const problems: string[] = [];
  for (const f of files ?? []) {
    const problem = f.kind === 'ca' ? checkCa(f.path) : checkCertAndKey(f.path);
    if (problem) problems.push(`${f.field}: ${f.path}: ${problem}`);
  }
  return problems;
}

type Read = { text: string } | { problem: string };

/** The file's text, or why it cannot be had. A FIFO is not opened for good (O_NONBLOCK). */
export function readSmallFile(path: string): Read {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return { problem: `not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: 'not a regular file' };
    if (st.size > MAX_BYTES) return { problem: `larger than ${MAX_BYTES / 1024 / 1024} MiB: not a PEM file` };
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return { text: buf.toString('utf8', 0, n) };
  } catch (err) {
    return { problem: `not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  } finally {
    closeSync(fd);
  }
}

function blocks(text: string, kinds: RegExp): string[] {
  return [...text.matchAll(BLOCK)].filter((m) => kinds.test(m[1])).map((m) => m[0]);
}

const CERTIFICATE = /^(TRUSTED )?CERTIFICATE$/;
// PKCS#8, PKCS#1 (RSA), SEC1 (EC) and the like: what OpenSSL and HAProxy read as a key.
const PRIVATE_KEY = /^((RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY$/;

/** A CA file: at least one certificate, and every certificate in it parses. */
function checkCa(path: string): string | undefined {
  const r = readSmallFile(path);
  if ('problem' in r) return r.problem;
  const certs = blocks(r.text, CERTIFICATE);
  if (certs.length === 0) return 'no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)';
  for (const [i, pem] of certs.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      return `certificate ${i + 1} does not parse (${(err as Error).message})`;
    }
  }
  return undefined;
}

/**
 * A client certificate: a certificate and the private key that goes with it, in the
 * file or, as HAProxy 2.6 reads it, in the same path plus `.key` when the file holds
 * no key. An encrypted key is refused: HAProxy cannot ask for its passphrase.
 */
function checkCertAndKey(path: string): string | undefined {
  const r = readSmallFile(path);
  if ('problem' in r) return r.problem;
  const certs = blocks(r.text, CERTIFICATE);
  if (certs.length === 0) return 'no PEM certificate in it (expected the client certificate and its private key)';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certs[0]);
  } catch (err) {
    return `the certificate does not parse (${(err as Error).message})`;
  }
  let keyPem = blocks(r.text, PRIVATE_KEY)[0];
  let keyAt = 'in it';
  if (keyPem === undefined) {
    const side = readSmallFile(`${path}.key`);
    if ('problem' in side) return `no private key in it, nor in ${path}.key (${side.problem}); put the key in the same file, after the certificate`;
    keyPem = blocks(side.text, PRIVATE_KEY)[0];
    keyAt = `in ${path}.key`;
    if (keyPem === undefined) return `no private key in it, nor in ${path}.key`;
  }
  if (/ENCRYPTED/.test(keyPem.slice(0, 40)) || /Proc-Type: 4,ENCRYPTED/.test(keyPem)) return `the private key ${keyAt} is encrypted: HAProxy needs it unencrypted`;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    return `the private key ${keyAt} does not parse (${(err as Error).message})`;
  }
  if (!cert.checkPrivateKey(key)) return `the private key ${keyAt} does not belong to the certificate`;
  return undefined;
}
