import { defaultAcl, formatAcl, type AclEntry } from './acl';
import type { ZkCredentials } from './auth';
import type { ZkTlsOptions } from './tls';
import type { TlsMaterial } from './tls-material';
import { splitConnectString } from './fields';

/** Where and as whom proxymgr talks to ZooKeeper, and the ACL of what it creates there. */
export interface ZkTarget {
  /** The ensemble's name in proxymgr.yml; undefined for a bare connect string. */
  name?: string;
  /** `host:port[,host:port...][/chroot]`. */
  servers: string;
  auth?: ZkCredentials;
  /** TLS to the secureClientPort, its files read and checked at load. */
  tls?: ZkTlsOptions & { material: TlsMaterial };
  /** The ACL of every znode proxymgr creates through this target, parents included. */
  acl: AclEntry[];
  /** False when `acl` is the default, which depends on whether there are credentials. */
  aclConfigured: boolean;
}

/** For messages: the ensemble's name and connect string, never its credentials. */
export function describeTarget(t: Pick<ZkTarget, 'name' | 'servers'>): string {
  return t.name === undefined ? t.servers : `ensemble ${t.name} (${t.servers})`;
}

/** The chroot of a target, for messages about paths; undefined without one. */
export function chrootOf(t: Pick<ZkTarget, 'servers'>): string | undefined {
  return splitConnectString(t.servers).chroot;
}

export function sameTarget(a: ZkTarget | undefined, b: ZkTarget | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const sameAuth = a.auth === undefined ? b.auth === undefined : a.auth.sameAs(b.auth);
  return a.name === b.name && a.servers === b.servers && sameAuth && tlsKey(a.tls) === tlsKey(b.tls) && formatAcl(a.acl) === formatAcl(b.acl);
}

/** What identifies a TLS setup: its files and the name checked (a renewed file is read again on SIGHUP only if its path changed). */
export function tlsKey(t: ZkTlsOptions | undefined): string {
  return t ? `tls ${t.caFile}|${t.certFile ?? ''}|${t.keyFile ?? ''}|${t.servername ?? ''}` : '';
}

/**
 * The ensembles proxymgr.yml defines, with credentials read. Watcher blobs come from the
 * registry and never carry credentials: they name an ensemble, or a connect string that
 * gets the credentials of the ensemble with exactly those servers.
 */
export class ZkDirectory {
  constructor(
    readonly ensembles: ReadonlyMap<string, ZkTarget> = new Map(),
    /** The service-config source's target, when it is ZooKeeper. */
    readonly serviceConfig?: ZkTarget,
  ) {}

  get(name: string): ZkTarget | undefined {
    return this.ensembles.get(name);
  }

  /** A bare `server` string: the ensemble (or the service-config source) with these servers, else no credentials and ZooKeeper's open ACL. */
  forServers(servers: string): ZkTarget {
    for (const t of this.ensembles.values()) if (t.servers === servers) return t;
    if (this.serviceConfig?.servers === servers) return this.serviceConfig;
    return { servers, acl: defaultAcl(false), aclConfigured: false };
  }

  sameAs(other: ZkDirectory): boolean {
    if (this.ensembles.size !== other.ensembles.size || !sameTarget(this.serviceConfig, other.serviceConfig)) return false;
    for (const [name, t] of this.ensembles) if (!sameTarget(t, other.ensembles.get(name))) return false;
    return true;
  }

  /** Names, servers, users and ACLs: what a log line may show. */
  toJSON(): unknown {
    const show = (t: ZkTarget) => ({ servers: t.servers, ...(t.auth && { auth: t.auth.toJSON() }), acl: formatAcl(t.acl) });
    return { ensembles: Object.fromEntries([...this.ensembles].map(([n, t]) => [n, show(t)])), ...(this.serviceConfig && { service_config: show(this.serviceConfig) }) };
  }
}
