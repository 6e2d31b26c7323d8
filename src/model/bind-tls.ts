import { posix } from 'node:path';
import { z } from 'zod';

/**
 * `bind_tls`: HAProxy terminates TLS on the service's port. It changes the `bind` line,
 * not the proxy's own lines, so it is not a Feature: it travels in the listen spec as data
 * and the templates put `bindOptions` after the address.
 *
 * Paths are the names HAProxy gives the certificates (`show ssl cert`, `set ssl cert`), so
 * they must be written as HAProxy will print them: absolute and normalized. Their words are
 * bare on the bind line and on the runtime API, hence the narrow character set (no spaces,
 * `#`, quotes, `;` or `\`). Whether the files exist and hold a certificate and its key is
 * checked where blobs are accepted (src/agent/bind-cert-files.ts); the model stays pure.
 */
const PATH = /^\/[A-Za-z0-9._@+=,~/-]{1,4095}$/;
const absolutePath = z
  .string()
  .regex(PATH, 'must be an absolute path of letters, digits and . _ @ + = , ~ / - (no spaces)')
  .refine((p) => posix.normalize(p) === p && !p.endsWith('/'), 'must be normalized (no //, /./, /../ or trailing /)');

/** HTTP protocols a TCP bind can offer (h3 needs QUIC, another kind of bind). */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1', 'http/1.0'] as const;
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

export const bindTlsSchema = z
  .strictObject({
    /** PEM files each holding a certificate (and its chain) and its private key; the first is the default for clients without SNI. */
    cert_files: z
      .array(absolutePath)
      .min(1, 'must name at least one file')
      .max(100)
      .refine((a) => new Set(a).size === a.length, 'must not name a file twice')
      .optional(),
    /** A directory HAProxy loads every certificate file of (not dot files, not .key/.ocsp/.issuer/.sctl). */
    cert_dir: absolutePath.optional(),
    alpn: z
      .array(z.enum(ALPN_PROTOCOLS, `must be one of ${ALPN_PROTOCOLS.join(', ')}`))
      .min(1, 'must name at least one protocol')
      .max(ALPN_PROTOCOLS.length)
      .refine((a) => new Set(a).size === a.length, 'must not name a protocol twice')
      .optional(),
    min_version: z.enum(TLS_VERSIONS, `must be ${TLS_VERSIONS.join(' or ')}`).optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.cert_files === undefined) === (b.cert_dir === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of cert_files or cert_dir' });
    }
  });

export type BindTlsInput = z.infer<typeof bindTlsSchema>;

/** `bind_tls` as the listen spec carries it (camelCase, only what was given). */
export interface BindTls {
  certFiles?: string[];
  certDir?: string;
  alpn?: string[];
  minVersion?: (typeof TLS_VERSIONS)[number];
}

export function bindTlsOf(b: BindTlsInput): BindTls {
  return {
    ...(b.cert_files && { certFiles: b.cert_files }),
    ...(b.cert_dir !== undefined && { certDir: b.cert_dir }),
    ...(b.alpn && { alpn: b.alpn }),
    ...(b.min_version && { minVersion: b.min_version }),
  };
}

/** What follows the address on the `bind` line; empty without TLS. */
export function bindOptions(b: BindTls | undefined): string {
  if (!b) return '';
  const words = ['ssl', ...(b.certDir !== undefined ? ['crt', b.certDir] : (b.certFiles ?? []).flatMap((f) => ['crt', f]))];
  if (b.alpn?.length) words.push('alpn', b.alpn.join(','));
  if (b.minVersion) words.push('ssl-min-ver', b.minVersion);
  return words.join(' ');
}

/**
 * A shared port has one `bind` line: only its default service (the one without `match`)
 * sets its TLS, and the routed services are served over it. A routed service that sets
 * `bind_tls` is refused on its own, so no two blobs can disagree about one port.
 */
export function bindTlsProblems(o: Readonly<Record<string, unknown>>): string[] {
  if (o.bind_tls === undefined || o.match === undefined) return [];
  return ['bind_tls: not with match: on a shared port only the default service (the one without match) sets TLS, and the routed ones are served over it'];
}

/**
 * Whether HAProxy loads this entry of a `crt` directory: it skips dot files and the files
 * it reads as extras of a certificate (measured on 2.6, docs/frontend-tls.md).
 */
export function loadedFromCertDir(name: string): boolean {
  return !name.startsWith('.') && !/\.(key|ocsp|issuer|sctl)$/.test(name);
}
