import { z } from 'zod';
import { needsHttp, type Feature } from './feature';
import { configWord, literalLogFormat } from './config-word';

/**
 * FastCGI backends (PHP-FPM and the like): `"proto": "fcgi"` makes HAProxy speak FastCGI
 * to every server of the service, and `fcgi` describes the application. The service owns
 * an `fcgi-app` section named after it (HAProxy keeps fcgi-app names apart from proxy
 * names, and a service name is a valid one), which its proxy uses with `use-fcgi-app`.
 * `proto fcgi` is a server token, so servers added at runtime speak FastCGI too
 * (`add server ... proto fcgi` is accepted by HAProxy 2.6).
 */

/** The usual PHP split: the script is the path up to `.php`, the rest is PATH_INFO. */
export const PHP_PATH_INFO = '^(/.+\\.php)(/.*)?$';

// Printable ASCII only: HAProxy would echo anything else in alerts and logs unreadably.
const printable = /^[\x20-\x7e]+$/;

const root = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^\/[\x20-\x7e]*$/, 'must be an absolute path on the FastCGI server (starting with /, printable ASCII)');

const index = z
  .string()
  .max(255, 'must be at most 255 characters')
  .regex(/^[A-Za-z0-9._~+@=,-]+$/, 'must be a file name such as index.php (letters, digits, . _ ~ + @ = , -)');

/** A regex with at least one capture group (the script name; the second, optional, is PATH_INFO). */
const pathInfoRegex = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^[\x20-\x26\x28-\x7e]+$/, "must be a regular expression in printable ASCII without ' (quote)")
  .superRefine((source, ctx) => {
    let groups: number;
    try {
      new RegExp(source);
      // An alternative that matches the empty string reveals the group count.
      groups = new RegExp(`(?:${source})|`).exec('')!.length - 1;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a valid regular expression' });
      return;
    }
    if (groups < 1) ctx.addIssue({ code: 'custom', message: 'must capture the script name in a group, e.g. ^(/.+\\.php)(/.*)?$' });
  });

const PARAM_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;
const PARAM_NAME_RULE = 'must be an upper-case name such as APP_ENV (A-Z, 0-9, _; at most 64; HAProxy sends names upper-cased)';
const paramValue = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters').regex(printable, 'must be printable ASCII (no control characters)');

const fcgi = z.strictObject({
  /** The document root on the FastCGI server: SCRIPT_FILENAME is root + script name. Required by HAProxy. */
  root,
  /** The script for a path ending in `/`. */
  index: index.optional(),
  /** `true`: the usual PHP split (PHP_PATH_INFO); a string: a regex whose first group is the script name, the second PATH_INFO. */
  path_info: z.union([z.boolean(), pathInfoRegex], 'must be true, false or a regular expression').optional(),
  /** Extra FastCGI parameters; values are literal text (a `%` is a `%`, not a log-format tag). */
  params: z
    .record(z.string().regex(PARAM_NAME), paramValue, {
      // The key's own error would only say "Invalid key in record".
      error: (issue) => (issue.code === 'invalid_key' ? PARAM_NAME_RULE : undefined),
    })
    .refine((params) => Object.keys(params).length <= 100, 'must have at most 100 parameters')
    .optional(),
});

type Fcgi = z.infer<typeof fcgi>;

export const fcgiFeature: Feature = {
  keys: {
    /** The protocol HAProxy speaks to the servers (HTTP when absent). */
    proto: z.enum(['fcgi'], 'must be fcgi (leave it out for HTTP)').optional(),
    fcgi: fcgi.optional(),
  },

  problems(o) {
    const problems = needsHttp(o, 'proto', 'fcgi');
    if (o.fcgi !== undefined && o.proto !== 'fcgi') problems.push('fcgi: needs "proto": "fcgi"');
    if (o.proto === 'fcgi' && o.fcgi === undefined) problems.push('fcgi: required with "proto": "fcgi" (at least "root", the document root on the FastCGI server)');
    return problems;
  },

  compile(o, service) {
    if (o.proto !== 'fcgi' || o.fcgi === undefined) return {};
    const f = o.fcgi as Fcgi;
    const lines = [`docroot ${configWord(f.root)}`];
    if (f.index !== undefined) lines.push(`index ${f.index}`);
    const pathInfo = f.path_info === true ? PHP_PATH_INFO : f.path_info || undefined;
    if (pathInfo !== undefined) lines.push(`path-info ${configWord(pathInfo)}`);
    for (const [name, value] of Object.entries(f.params ?? {})) lines.push(`set-param ${name} ${literalLogFormat(value)}`);
    return {
      listen: [`use-fcgi-app ${service}`],
      server: ['proto fcgi'],
      sections: [{ kind: 'fcgi-app', name: service, lines }],
    };
  },
};
