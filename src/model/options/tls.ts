import { isIP } from 'node:net';
import { z } from 'zod';
import type { Feature, FileNeed } from './feature';

/**
 * TLS from HAProxy to the service's servers (`tls`), often mutual: HAProxy checks the
 * servers' certificates against `ca_file`, names the server it expects with `sni`, and
 * shows `client_cert` when a server asks for one. Every token is a server token, so servers
 * added at runtime get them too: HAProxy 2.6 accepts `add server ... ssl verify required
 * ca-file F crt G sni str(H) check-sni H`, but only with files it loaded at start (see
 * docs/backend-tls.md); render.ts gives a service with no servers yet a placeholder server
 * so that its files are loaded all the same.
 *
 * Paths are absolute: a blob from ZooKeeper has no directory of its own, and HAProxy
 * would read a relative one against its working directory or `ca-base`/`crt-base`. The
 * files are checked (exist, parse, a key matching the certificate) outside the model,
 * where the blob is accepted: the model names them in `files`.
 */

/**
 * Characters a path may hold. The same words go to haproxy.cfg and to the runtime CLI,
 * whose parser knows no quotes and reads `;` as the end of a command, so no quoting can
 * save a space, a quote, `;` or `#`: they are refused instead.
 */
const absolutePath = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^(\/[A-Za-z0-9_.@+=,~:-]+)+$/, 'must be an absolute path to a file (letters, digits and _ . @ + = , ~ : - /; no spaces or quotes)');

/**
 * The server's name as sent in the TLS handshake and checked against its certificate.
 * A host name only: RFC 6066 sends no IP address as SNI. It goes inside `str(...)`, which
 * a comma or a parenthesis would break: host names have neither.
 */
const sniName = z
  .string()
  .max(253, 'must be at most 253 characters')
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a host name such as api.internal (letters, digits, - and dots)')
  .refine((h) => isIP(h) === 0 && !/^[0-9.]+$/.test(h), 'must be a host name, not an IP address (TLS sends no IP address as SNI)')
  .transform((h) => h.toLowerCase());

const tls = z
  .strictObject({
    /** `required` (the default) checks each server's certificate against `ca_file`; `none` must be asked for. */
    verify: z.enum(['required', 'none'], 'must be required or none').optional(),
    /** PEM with the CA certificate(s) the servers' certificates must chain to. */
    ca_file: absolutePath.optional(),
    /** The name sent as SNI; with `verify: required` the server's certificate must carry it too. */
    sni: sniName.optional(),
    /** PEM with the client certificate and its private key (or the key in the same path plus `.key`, as HAProxy 2.6 reads it). */
    client_cert: absolutePath.optional(),
  })
  .optional();

export type Tls = z.infer<typeof tls>;

/** The files a `tls` key names, for the checker outside the model. */
export function tlsFiles(t: Tls): FileNeed[] {
  const files: FileNeed[] = [];
  if (t?.ca_file !== undefined) files.push({ field: 'tls.ca_file', path: t.ca_file, kind: 'ca' });
  if (t?.client_cert !== undefined) files.push({ field: 'tls.client_cert', path: t.client_cert, kind: 'cert-and-key' });
  return files;
}

/** The server tokens of a `tls` key; empty without one. */
export function tlsTokens(t: Tls): string[] {
  if (!t) return [];
  const tokens = ['ssl', `verify ${t.verify ?? 'required'}`];
  if (t.ca_file !== undefined) tokens.push(`ca-file ${t.ca_file}`);
  if (t.client_cert !== undefined) tokens.push(`crt ${t.client_cert}`);
  // `sni` is a sample expression; `check-sni` a plain name. Health checks send no SNI
  // without the latter, and then do not check the name: a server whose certificate does
  // not carry it would stay up while every request to it failed (measured on 2.6).
  if (t.sni !== undefined) tokens.push(`sni str(${t.sni})`, `check-sni ${t.sni}`);
  return tokens;
}

export const tlsFeature: Feature = {
  keys: { tls },

  problems(o) {
    const t = o.tls as Tls;
    if (!t) return [];
    if ((t.verify ?? 'required') === 'required' && t.ca_file === undefined) {
      return ['tls.ca_file: required to verify the servers\' certificates (or set "verify": "none" to skip verification)'];
    }
    // A CA that is never used would read as if the servers were verified.
    if (t.verify === 'none' && t.ca_file !== undefined) return ['tls.ca_file: not used with "verify": "none" (leave verify out to check the servers against it)'];
    return [];
  },

  compile(o) {
    const t = o.tls as Tls;
    if (!t) return {};
    return { server: tlsTokens(t), files: tlsFiles(t) };
  },
};
