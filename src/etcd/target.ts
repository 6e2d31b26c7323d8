import type { TlsMaterial } from '../zk/tls-material';
import type { EtcdCredentials } from './credentials';
import { canonicalEndpoints } from './fields';

/** TLS to etcd: the files (for messages and change detection) and what was read from them at load. */
export interface EtcdTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
  material: TlsMaterial;
}

/** Where and as whom proxymgr talks to etcd. */
export interface EtcdTarget {
  /** The cluster's name in proxymgr.yml; undefined for bare endpoints. */
  name?: string;
  /** With their scheme, sorted (`canonicalEndpoints`). */
  endpoints: string[];
  auth?: EtcdCredentials;
  tls?: EtcdTls;
}

/** For messages: the cluster's name and endpoints, never its credentials. */
export function describeEtcdTarget(t: Pick<EtcdTarget, 'name' | 'endpoints'>): string {
  const list = t.endpoints.join(',');
  return t.name === undefined ? `etcd ${list}` : `etcd cluster ${t.name} (${list})`;
}

/** What identifies a TLS setup: its files (a renewed file is read again on SIGHUP). */
function tlsKey(t: EtcdTls | undefined): string {
  return t ? `tls ${t.caFile}|${t.certFile ?? ''}|${t.keyFile ?? ''}` : '';
}

/** Clients are shared by endpoints and identity: two identities on one cluster may see different keys. */
export function etcdClientKey(t: EtcdTarget): string {
  return `${t.endpoints.join(',')}\n${t.auth?.key() ?? ''}\n${tlsKey(t.tls)}`;
}

export function sameEtcdTarget(a: EtcdTarget | undefined, b: EtcdTarget | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.name === b.name && etcdClientKey(a) === etcdClientKey(b);
}

/**
 * The clusters proxymgr.yml defines, with credentials read. Watcher blobs come from the
 * registry and never carry credentials: they name a cluster, or endpoints that get the
 * credentials of the cluster with exactly those endpoints.
 */
export class EtcdDirectory {
  constructor(
    readonly clusters: ReadonlyMap<string, EtcdTarget> = new Map(),
    /** The service-config source's target, when it is etcd. */
    readonly serviceConfig?: EtcdTarget,
  ) {}

  get(name: string): EtcdTarget | undefined {
    return this.clusters.get(name);
  }

  /**
   * Endpoints as a blob writes them: the cluster (or the service-config source) with these
   * endpoints, else no credentials and no TLS. An endpoint without a scheme matches a
   * cluster's https:// one when that cluster has TLS.
   */
  forEndpoints(raw: readonly string[]): EtcdTarget {
    const same = (t: EtcdTarget) => canonicalEndpoints(raw, t.tls !== undefined).join(',') === t.endpoints.join(',');
    for (const t of this.clusters.values()) if (same(t)) return t;
    if (this.serviceConfig && same(this.serviceConfig)) return this.serviceConfig;
    return { endpoints: canonicalEndpoints(raw, false) };
  }

  sameAs(other: EtcdDirectory): boolean {
    if (this.clusters.size !== other.clusters.size || !sameEtcdTarget(this.serviceConfig, other.serviceConfig)) return false;
    for (const [name, t] of this.clusters) if (!sameEtcdTarget(t, other.clusters.get(name))) return false;
    return true;
  }

  /** Names, endpoints and users: what a log line may show. */
  toJSON(): unknown {
    const show = (t: EtcdTarget) => ({ endpoints: t.endpoints, ...(t.auth && { auth: t.auth.toJSON() }), ...(t.tls && { tls: true }) });
    return { clusters: Object.fromEntries([...this.clusters].map(([n, t]) => [n, show(t)])), ...(this.serviceConfig && { service_config: show(this.serviceConfig) }) };
  }
}
