import { z } from 'zod';

/**
 * Shared HTTP frontends (the Monkey plugin's `Match` rules): services in `mode: http`
 * that declare the same port share one frontend; each may route by host and path, and
 * the one without `match` takes the rest.
 */
// Printable ASCII but for what HAProxy's config parser reads as syntax in an unquoted word:
// `#` starts a comment (`path_beg /a#b` would match every path under /a), quotes open a
// quoted string, `\` escapes. None can be in a request's path as sent anyway.
const PATH_CHARS = "[\\x21\\x24-\\x26\\x28-\\x5b\\x5d-\\x7e]";
const NOT_SYNTAX = 'no spaces, control characters, #, quotes or backslashes';
// Exported for other `match`-like keys (priority classes) that select requests the same way.
export const pathPrefix = z.string().regex(new RegExp(`^/${PATH_CHARS}*$`), `must start with / and hold ${NOT_SYNTAX}`).max(1024);
export const pathSuffix = z.string().regex(new RegExp(`^${PATH_CHARS}+$`), `must hold ${NOT_SYNTAX}`).max(1024);
const pathGlob = z.string().regex(new RegExp(`^/${PATH_CHARS}*$`), `must start with / and hold ${NOT_SYNTAX}`).max(1024);
export const hostName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be a host name such as api.example.com')
  .max(253)
  .transform((h) => h.toLowerCase());

export const matchSchema = z
  .strictObject({
    path_prefix: z.array(pathPrefix).max(100).optional(),
    path_suffix: z.array(pathSuffix).max(100).optional(),
    /** Monkey's `Match /*.php`: `*` is any run of characters (`/` too), `?` any one; the whole path must match. */
    path_glob: z.array(pathGlob).max(100).optional(),
    host: z.array(hostName).max(100).optional(),
  })
  .refine(
    (m) => (m.path_prefix?.length ?? 0) + (m.path_suffix?.length ?? 0) + (m.path_glob?.length ?? 0) + (m.host?.length ?? 0) > 0,
    'must name at least one path_prefix, path_suffix, path_glob or host',
  );

export type Match = z.infer<typeof matchSchema>;

/**
 * A path glob as an anchored regex for `path_reg`, in single quotes so HAProxy's config
 * parser passes it through untouched (the glob's characters exclude the quote itself).
 */
export function globRegex(glob: string): string {
  const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return `'^${body}$'`;
}

/** The characters a glob names literally: how specific it is, for rule order. */
const literalLength = (glob: string) => glob.replace(/[*?]/g, '').length;

/** The frontend of a shared port: ACLs, `use_backend` rules (most specific first) and the default. */
export interface SharedFrontend {
  name: string;
  port: number;
  acls: string[];
  rules: string[];
  defaultBackend?: string;
}

/** The HAProxy name of a shared port's frontend; `:` cannot occur in a service name, so it never clashes. */
export const frontendName = (port: number) => `port:${port}`;

/** Builds the frontend for services sharing `port`. Pure: the same services give the same lines. */
export function sharedFrontend(port: number, services: ReadonlyArray<{ name: string; match?: Match }>): SharedFrontend {
  const acls: string[] = [];
  const routed: Array<{ rule: string; score: number; longest: number; name: string }> = [];
  let defaultBackend: string | undefined;
  for (const s of services) {
    const m = s.match;
    if (!m) {
      defaultBackend = s.name;
      continue;
    }
    const id = `pm_${s.name}`;
    const host = m.host?.length ? `${id}_host` : undefined;
    const paths: string[] = [];
    if (host) acls.push(`acl ${host} req.hdr(host),field(1,:),lower -m str ${m.host!.join(' ')}`);
    if (m.path_prefix?.length) {
      acls.push(`acl ${id}_prefix path_beg ${m.path_prefix.join(' ')}`);
      paths.push(`${id}_prefix`);
    }
    if (m.path_suffix?.length) {
      acls.push(`acl ${id}_suffix path_end ${m.path_suffix.join(' ')}`);
      paths.push(`${id}_suffix`);
    }
    if (m.path_glob?.length) {
      acls.push(`acl ${id}_glob path_reg ${m.path_glob.map(globRegex).join(' ')}`);
      paths.push(`${id}_glob`);
    }
    const terms = paths.length ? paths.map((p) => (host ? `${host} ${p}` : p)) : [host!];
    routed.push({
      rule: `use_backend ${s.name} if ${terms.join(' || ')}`,
      score: (host ? 2 : 0) + (paths.length ? 1 : 0),
      longest: Math.max(0, ...(m.path_prefix ?? []).map((p) => p.length), ...(m.path_suffix ?? []).map((p) => p.length), ...(m.path_glob ?? []).map(literalLength)),
      name: s.name,
    });
  }
  // Host and path before either alone; a longer prefix before a shorter one (/api/v2 before /api),
  // a glob ranked by the characters it names literally (/img/*.png before /*.png).
  routed.sort((a, b) => b.score - a.score || b.longest - a.longest || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { name: frontendName(port), port, acls, rules: routed.map((r) => r.rule), defaultBackend };
}
