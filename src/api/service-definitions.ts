import type { IncomingMessage } from 'node:http';
import { EtcdPermissionDeniedError } from 'etcd3';
import { isValidServiceName, parseServiceDefinition } from '../model/service';
import { createServiceStore } from '../service-config';
import { PreconditionFailed, StoreConflict, type Precondition, type ServiceStore } from '../service-config/store';
import { WATCHER_SCHEMAS } from '../watchers';
import type { Config } from '../config/load';
import { undefinedRegistries, type RegistryNames } from '../config/registry-names';
import { isNoAuth } from '../zk/errors';
import { checkServiceFiles } from '../agent/service-files';

/** What a mutating call answers; the audit line records its status. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Services managed through the API: read, written and removed in the service-config
 * source itself (a file or a znode, through a `ServiceStore`), validated like any blob
 * from that source; the agent picks a change up through its ordinary watch.
 */
export class ServiceDefinitions {
  constructor(
    /** Without a store these calls answer 501. */
    private store?: ServiceStore,
    /** The ensembles and clusters proxymgr.yml defines; without it a blob's names are not checked. */
    private registries?: RegistryNames,
  ) {}

  /** For SIGHUP: a store for `service_config` as it is now (the same one kept if nothing changed). */
  reconfigure(config: Config): void {
    this.registries = config;
    const next = createServiceStore(config);
    const same = (a: ServiceStore, b: ServiceStore) => a.describe() === b.describe() && a.identity?.() === b.identity?.();
    if (this.store && same(this.store, next)) return next.close();
    this.store?.close();
    this.store = next;
  }

  close(): void {
    this.store?.close();
  }

  /** `GET /api/services/NAME/definition`: the blob as the source holds it, and its version (also the ETag). */
  async read(name: string): Promise<Reply> {
    if (!this.store) return { status: 501, body: { error: 'no service store: the API cannot read service definitions' } };
    if (!isValidServiceName(name)) return { status: 400, body: { error: `invalid service name ${JSON.stringify(name)}` } };
    try {
      const cur = await this.store.read(name);
      if (!cur) return { status: 404, body: { error: `no service ${name} in ${this.store.describe()}` } };
      return { status: 200, body: { blob: cur.blob ?? null, version: cur.version }, headers: { etag: `"${cur.version}"` } };
    } catch (err) {
      return storeError(err);
    }
  }

  /** `PUT /api/services/NAME`: validated like a blob from the source, then written to it; the agent picks it up through its watch. */
  async put(name: string, body: () => Promise<string>, cond: Precondition, change: Record<string, unknown>): Promise<Reply> {
    if (!this.store) return { status: 501, body: { error: 'no service store: the API cannot write service definitions' } };
    change.service = name;
    if (cond.ifMatch !== undefined) change.if_match = cond.ifMatch;
    if (cond.ifNoneMatch !== undefined) change.if_none_match = cond.ifNoneMatch;
    let raw: unknown;
    try {
      raw = JSON.parse(await body());
    } catch (err) {
      return { status: 400, body: { error: `body must be a JSON service blob: ${(err as Error).message}` } };
    }
    change.blob = blobSummary(raw);
    const parsed = parseServiceDefinition(name, raw, WATCHER_SCHEMAS);
    // The files and registries it names are checked on this host too: a blob this agent would refuse is not written.
    const errors = parsed.ok ? [...checkServiceFiles(parsed.service.files), ...(this.registries ? undefinedRegistries(this.registries, parsed.service.watcher) : [])] : parsed.errors;
    if (errors.length) return { status: 400, body: { error: `service ${name} is invalid: ${errors.join('; ')}`, errors } };
    try {
      const r = await this.store.write(name, raw, cond);
      change.version = r.version;
      return { status: r.created ? 201 : 200, body: { service: name, version: r.version, created: r.created }, headers: { etag: `"${r.version}"` } };
    } catch (err) {
      return storeError(err);
    }
  }

  /** `DELETE /api/services/NAME`: removed from the source; the agent removes the service through its watch. */
  async remove(name: string, cond: Precondition, change: Record<string, unknown>): Promise<Reply> {
    if (!this.store) return { status: 501, body: { error: 'no service store: the API cannot remove service definitions' } };
    change.service = name;
    if (cond.ifMatch !== undefined) change.if_match = cond.ifMatch;
    if (!isValidServiceName(name)) return { status: 400, body: { error: `invalid service name ${JSON.stringify(name)}` } };
    try {
      if (!(await this.store.remove(name, cond))) return { status: 404, body: { error: `no service ${name} in ${this.store.describe()}` } };
      return { status: 200, body: { service: name, deleted: true } };
    } catch (err) {
      return storeError(err);
    }
  }
}

/** If-Match and If-None-Match (`*` only), with the quotes and weak marker of an ETag taken off. */
export function precondition(req: IncomingMessage): Precondition {
  const tag = (v: string | undefined) => v?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  const ifMatch = tag(req.headers['if-match']);
  const ifNoneMatch = tag(req.headers['if-none-match']);
  return { ...(ifMatch !== undefined && { ifMatch }), ...(ifNoneMatch === '*' && { ifNoneMatch: '*' as const }) };
}

function storeError(err: unknown): Reply {
  if (err instanceof PreconditionFailed) return { status: 412, body: { error: `precondition failed: ${err.message}`, version: err.current ?? null } };
  if (err instanceof StoreConflict) return { status: 409, body: { error: err.message } };
  // ZooKeeper's ACL refused the agent's identity: the request is understood and not allowed.
  if (isNoAuth(err)) return { status: 403, body: { error: `service store: NOAUTH: ZooKeeper's ACL does not let this agent's credentials write there` } };
  // Likewise etcd's roles: the agent's user may read the prefix (it must) without being let write it.
  if (err instanceof EtcdPermissionDeniedError) return { status: 403, body: { error: "service store: permission denied: etcd's roles do not let this agent's user write there" } };
  return { status: 503, body: { error: `service store: ${(err as Error).message}` } };
}

/** A short, safe rendering of one body value for the audit line. */
export function summarize(v: unknown): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 40 ? `${v.slice(0, 40)}...` : v;
  return typeof v;
}

/** What a service blob is, for the audit line: its watcher type, port and keys (not its values). */
function blobSummary(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return summarize(raw);
  const r = raw as Record<string, unknown>;
  return { type: summarize(r.type), port: summarize(r.port), keys: Object.keys(r).sort().slice(0, 30) };
}
