import { defaultAcl, needsCredentials, parseAcl, type AclEntry } from './acl';
import { resolve } from 'node:path';
import { readCredentials, type AuthSpec, type ZkCredentials } from './auth';
import type { ZkTlsOptions } from './tls';
import { loadTlsMaterial, type TlsMaterial } from './tls-material';
import { ZkDirectory, type ZkTarget } from './target';

/** `zookeeper.ensembles.NAME` as proxymgr.yml has it (validated by the schema). */
export interface TlsInput {
  ca_file: string;
  cert_file?: string;
  key_file?: string;
  servername?: string;
}

export interface EnsembleInput {
  servers: string;
  auth?: AuthSpec;
  tls?: TlsInput;
  acl?: string;
}

/** `service_config` of type zookeeper as proxymgr.yml has it: `ensemble`, or `servers` with its own `auth`/`acl`. */
export interface ZkServiceConfigInput {
  type: 'zookeeper';
  servers?: string;
  ensemble?: string;
  path: string;
  auth?: AuthSpec;
  tls?: TlsInput;
  acl?: string;
}

export interface ResolveOptions {
  /** Relative `credentials_file`s resolve against this directory (proxymgr.yml's). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** False: leave credentials unread (a CLI command given its own with --auth-file). */
  credentials?: boolean;
}

/** The ACL a target gets: the configured one, else the default for whether it has credentials. */
export function aclFor(spec: string | undefined, authenticated: boolean): { acl: AclEntry[]; configured: boolean } {
  if (spec === undefined) return { acl: defaultAcl(authenticated), configured: false };
  const parsed = parseAcl(spec);
  // The schema has refused a bad spec already; fall back to the safest ACL rather than throw.
  return { acl: parsed.ok ? parsed.acl : defaultAcl(authenticated), configured: true };
}

/** The same target with other credentials (a CLI's --auth-file); a default ACL follows the credentials. */
export function withCredentials(t: ZkTarget, auth: ZkCredentials | undefined): ZkTarget {
  return { ...t, auth, acl: t.aclConfigured ? t.acl : defaultAcl(auth !== undefined) };
}

function target(key: string, name: string | undefined, e: EnsembleInput, o: ResolveOptions, problems: string[]): ZkTarget {
  let auth: ZkCredentials | undefined;
  if (e.auth && o.credentials !== false) {
    const r = readCredentials(e.auth, o.baseDir, o.env);
    if (r.ok) auth = r.value;
    else problems.push(`${key}.auth: ${r.error}`);
  }
  let tls: (ZkTlsOptions & { material: TlsMaterial }) | undefined;
  if (e.tls) {
    const file = (f: string | undefined) => (f === undefined ? undefined : resolve(o.baseDir, f));
    const opts: ZkTlsOptions = { caFile: file(e.tls.ca_file)!, certFile: file(e.tls.cert_file), keyFile: file(e.tls.key_file), servername: e.tls.servername };
    try {
      tls = { ...opts, material: loadTlsMaterial(opts) };
    } catch (err) {
      problems.push(`${key}.tls: ${(err as Error).message}`);
    }
  }
  const { acl, configured } = aclFor(e.acl, e.auth !== undefined);
  if (configured && needsCredentials(acl) && !e.auth) problems.push(`${key}.acl: creator needs auth (ZooKeeper refuses it from a session without credentials)`);
  return { ...(name !== undefined && { name }), servers: e.servers, ...(auth && { auth }), ...(tls && { tls }), acl, aclConfigured: configured };
}

/**
 * The ensembles of proxymgr.yml and the service-config source's target, credentials read
 * from their environment variables or files. Problems are named by key, as the schema's
 * are, and never hold a credential.
 */
export function resolveZk(ensembles: Record<string, EnsembleInput>, sc: ZkServiceConfigInput | { type: string }, o: ResolveOptions): { directory: ZkDirectory; problems: string[] } {
  const problems: string[] = [];
  const byName = new Map<string, ZkTarget>();
  const byServers = new Map<string, string>();
  for (const [name, e] of Object.entries(ensembles)) {
    const key = `zookeeper.ensembles.${name}`;
    const other = byServers.get(e.servers);
    // A blob's "server" string picks its ensemble by servers: two would make that ambiguous.
    if (other !== undefined) problems.push(`${key}.servers: same servers as ensemble ${other}; define each connect string once`);
    byServers.set(e.servers, name);
    byName.set(name, target(key, name, e, o, problems));
  }
  let serviceConfig: ZkTarget | undefined;
  if (sc.type === 'zookeeper') {
    const z = sc as ZkServiceConfigInput;
    if ((z.servers === undefined) === (z.ensemble === undefined)) problems.push('service_config: needs exactly one of servers, ensemble');
    else if (z.ensemble !== undefined) {
      serviceConfig = byName.get(z.ensemble);
      if (!serviceConfig) problems.push(`service_config.ensemble: ${JSON.stringify(z.ensemble)} is not defined in zookeeper.ensembles`);
      for (const k of ['auth', 'tls', 'acl'] as const) if (z[k] !== undefined) problems.push(`service_config.${k}: comes from ensemble ${z.ensemble}; set it there`);
    } else {
      const named = byServers.get(z.servers!);
      if (named !== undefined && (z.auth !== undefined || z.tls !== undefined || z.acl !== undefined)) {
        problems.push(`service_config.servers: same servers as ensemble ${named}; write ensemble: ${named} and set auth, tls and acl there`);
      }
      serviceConfig = named !== undefined ? byName.get(named) : target('service_config', undefined, { servers: z.servers!, auth: z.auth, tls: z.tls, acl: z.acl }, o, problems);
    }
  }
  return { directory: new ZkDirectory(byName, serviceConfig), problems };
}
