import { z } from 'zod';

/**
 * Shared HTTP frontends (the Monkey plugin's `Match` rules): services in `mode: http`
 * that declare the same port share one frontend; each may route by host and path, and
 * the one without `match` takes the rest.
 */
// Exported for other `match`-like keys (priority classes) that select requests the same way.
export const pathPrefix = z.string().regex(/^\/[\x21-\x7e]*$/, 'must start with / and hold no spaces or control characters').max(1024);
export const pathSuffix = z.string().regex(/^[\x21-\x7e]+$/, 'must hold no spaces or control characters').max(1024);
export const hostName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be a host name such as api.example.com')
  .max(253)
  .transform((h) => h.toLowerCase());

export const matchSchema = z
  .strictObject({
    path_prefix: z.array(pathPrefix).max(100).optional(),
    path_suffix: z.array(pathSuffix).max(100).optional(),
    host: z.array(hostName).max(100).optional(),
  })
  .refine((m) => (m.path_prefix?.length ?? 0) + (m.path_suffix?.length ?? 0) + (m.host?.length ?? 0) > 0, 'must name at least one path_prefix, path_suffix or host');

export type Match = z.infer<typeof matchSchema>;

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
    const terms = paths.length ? paths.map((p) => (host ? `${host} ${p}` : p)) : [host!];
    routed.push({
      rule: `use_backend ${s.name} if ${terms.join(' || ')}`,
      score: (host ? 2 : 0) + (paths.length ? 1 : 0),
      longest: Math.max(0, ...(m.path_prefix ?? []).map((p) => p.length), ...(m.path_suffix ?? []).map((p) => p.length)),
      name: s.name,
    });
  }
  // Host and path before either alone; a longer prefix before a shorter one (/api/v2 before /api).
  routed.sort((a, b) => b.score - a.score || b.longest - a.longest || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { name: frontendName(port), port, acls, rules: routed.map((r) => r.rule), defaultBackend };
}
