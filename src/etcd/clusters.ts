import { resolve } from 'node:path';
import { loadTlsMaterial } from '../zk/tls-material';
import type { SecretSource } from '../util/secret-text';
import { readEtcdCredentials, type EtcdCredentials } from './credentials';
import { canonicalEndpoints, endpointsProblem } from './fields';
import { EtcdDirectory, type EtcdTarget, type EtcdTls } from './target';

/** `etcd.clusters.NAME` as proxymgr.yml has it (validated by the schema). */
export interface ClusterInput {
  endpoints: string[];
  auth?: SecretSource;
  tls?: { ca_file: string; cert_file?: string; key_file?: string };
}

/** `service_config` of type etcd: `cluster`, or `endpoints` with their own `auth`/`tls`. */
export interface EtcdServiceConfigInput extends Partial<ClusterInput> {
  type: 'etcd';
  cluster?: string;
  prefix: string;
}

export interface ResolveOptions {
  /** Relative files resolve against this directory (proxymgr.yml's). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** False: leave credentials unread (a CLI command given its own). */
  credentials?: boolean;
}

function target(key: string, name: string | undefined, c: ClusterInput, o: ResolveOptions, problems: string[]): EtcdTarget {
  let auth: EtcdCredentials | undefined;
  if (c.auth && o.credentials !== false) {
    const r = readEtcdCredentials(c.auth, o.baseDir, o.env);
    if (r.ok) auth = r.value;
    else problems.push(`${key}.auth: ${r.error}`);
  }
  let tls: EtcdTls | undefined;
  if (c.tls) {
    const file = (f: string | undefined) => (f === undefined ? undefined : resolve(o.baseDir, f));
    const files = { caFile: file(c.tls.ca_file)!, certFile: file(c.tls.cert_file), keyFile: file(c.tls.key_file) };
    try {
      tls = { ...files, material: loadTlsMaterial(files, 'etcd TLS') };
    } catch (err) {
      problems.push(`${key}.tls: ${(err as Error).message}`);
    }
  }
  const endpoints = canonicalEndpoints(c.endpoints, c.tls !== undefined);
  const problem = endpointsProblem(endpoints, c.tls !== undefined);
  if (problem) problems.push(`${key}.endpoints: ${problem}`);
  return { ...(name !== undefined && { name }), endpoints, ...(auth && { auth }), ...(tls && { tls }) };
}

/**
 * The clusters of proxymgr.yml and the service-config source's target, credentials and TLS
 * files read. Problems are named by key, as the schema's are, and never hold a credential.
 */
export function resolveEtcd(clusters: Record<string, ClusterInput>, sc: EtcdServiceConfigInput | { type: string }, o: ResolveOptions): { directory: EtcdDirectory; problems: string[] } {
  const problems: string[] = [];
  const byName = new Map<string, EtcdTarget>();
  const byEndpoints = new Map<string, string>();
  for (const [name, c] of Object.entries(clusters)) {
    const key = `etcd.clusters.${name}`;
    const t = target(key, name, c, o, problems);
    const list = t.endpoints.join(',');
    // A blob's bare endpoints pick their cluster by endpoints: two would make that ambiguous.
    const other = byEndpoints.get(list);
    if (other !== undefined) problems.push(`${key}.endpoints: same endpoints as cluster ${other}; define each cluster once`);
    byEndpoints.set(list, name);
    byName.set(name, t);
  }
  let serviceConfig: EtcdTarget | undefined;
  if (sc.type === 'etcd') {
    const e = sc as EtcdServiceConfigInput;
    if ((e.endpoints === undefined) === (e.cluster === undefined)) problems.push('service_config: needs exactly one of endpoints, cluster');
    else if (e.cluster !== undefined) {
      serviceConfig = byName.get(e.cluster);
      if (!serviceConfig) problems.push(`service_config.cluster: ${JSON.stringify(e.cluster)} is not defined in etcd.clusters`);
      for (const k of ['auth', 'tls'] as const) if (e[k] !== undefined) problems.push(`service_config.${k}: comes from cluster ${e.cluster}; set it there`);
    } else {
      const list = canonicalEndpoints(e.endpoints!, e.tls !== undefined).join(',');
      const named = byEndpoints.get(list);
      if (named !== undefined && (e.auth !== undefined || e.tls !== undefined)) problems.push(`service_config.endpoints: same endpoints as cluster ${named}; write cluster: ${named} and set auth and tls there`);
      serviceConfig = named !== undefined ? byName.get(named) : target('service_config', undefined, { endpoints: e.endpoints!, auth: e.auth, tls: e.tls }, o, problems);
    }
  }
  return { directory: new EtcdDirectory(byName, serviceConfig), problems };
}
