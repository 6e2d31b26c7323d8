import type { Logger } from '../log';
import { isValidServiceName } from '../model/service';
import { EtcdClient } from '../etcd/client';
import { PrefixCache } from '../etcd/prefix-cache';
import { describeEtcdTarget, type EtcdTarget } from '../etcd/target';
import { deliverJsonBlob, type ServiceConfigHandler, type ServiceConfigSource } from './source';

/** What one service name stands for under the prefix: its key and value, or the keys that all claim it. */
export type ServiceKey = { key: string; value: Buffer } | { ambiguous: string[] };

/**
 * Names the services under a prefix: each key (relative to `prefix/`) is the service named
 * after its last segment. Two keys with one last segment make that service ambiguous (it is
 * set aside, naming both); keys ending in `/` or not a valid service name are returned apart.
 */
export function servicesFromKeys(entries: ReadonlyMap<string, Buffer>): { services: Map<string, ServiceKey>; badKeys: string[] } {
  const services = new Map<string, ServiceKey>();
  const badKeys: string[] = [];
  for (const [key, value] of entries) {
    const name = key.slice(key.lastIndexOf('/') + 1);
    if (!isValidServiceName(name)) {
      badKeys.push(key);
      continue;
    }
    const had = services.get(name);
    if (!had) services.set(name, { key, value });
    else services.set(name, { ambiguous: [...('ambiguous' in had ? had.ambiguous : [had.key]), key].sort() });
  }
  return { services, badKeys };
}

/** `service_config: {type: etcd, endpoints | cluster, prefix}`: each key under `prefix/` is a service, its value the blob (JSON). */
export class EtcdServiceConfig implements ServiceConfigSource {
  private client?: EtcdClient;
  private cache?: PrefixCache;
  /** What each service was last handed over as (its value, or why it is invalid), so an unchanged one is not handed again. */
  private known = new Map<string, string>();
  private badKeys = new Set<string>();
  private readError?: { message: string; since: number };

  constructor(
    private readonly target: EtcdTarget,
    private readonly prefix: string,
    /** Relative paths in blobs (a `file` watcher's file) resolve against this directory. */
    private readonly baseDir: string,
    private readonly log?: Logger,
  ) {}

  describe(): string {
    return `etcd:${this.target.endpoints.join(',')}${this.prefix}`;
  }

  problem(): { message: string; since: number } | undefined {
    return this.readError;
  }

  async start(handler: ServiceConfigHandler): Promise<void> {
    this.client = EtcdClient.acquire(this.target);
    let first: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (first = resolve));
    this.cache = new PrefixCache(this.client, this.prefix, {
      onChange: (entries) => {
        if (this.readError) {
          this.log?.info({ event: 'service_config_recovered', bad_ms: Date.now() - this.readError.since, error: this.readError.message }, 'service config readable again');
          this.readError = undefined;
        }
        this.deliver(entries, handler);
        first();
      },
      // An unreachable or forbidden prefix keeps every service as it is.
      onError: (message) => {
        const full = `service config ${message}; keeping every service as it is`;
        if (this.readError?.message !== full) this.log?.warn({ event: 'service_config_error', error: full }, 'service config cannot be read');
        this.readError = { message: full, since: this.readError?.since ?? Date.now() };
        first();
      },
      onRead: (reason) => {
        if (reason !== 'start') this.log?.warn({ event: 'etcd_reread', server: describeEtcdTarget(this.target), prefix: this.prefix, reason }, 'etcd watch could not resume; reading the services again (services kept meanwhile)');
      },
    });
    this.cache.start();
    await initial;
  }

  private deliver(entries: ReadonlyMap<string, Buffer>, handler: ServiceConfigHandler): void {
    const { services, badKeys } = servicesFromKeys(entries);
    for (const key of badKeys) {
      if (this.badKeys.has(key)) continue;
      this.log?.warn({ event: 'service_key_ignored', key: `${this.prefix}/${key}` }, 'key under the service-config prefix is not a valid service name; ignored');
    }
    this.badKeys = new Set(badKeys);
    for (const name of [...this.known.keys()]) {
      if (!services.has(name)) {
        this.known.delete(name);
        handler.remove(name);
      }
    }
    for (const [name, found] of services) {
      if ('ambiguous' in found) {
        const why = `ambiguous: ${found.ambiguous.map((k) => `${this.prefix}/${k}`).join(' and ')} both name it`;
        if (this.known.get(name) === why) continue;
        this.known.set(name, why);
        handler.invalid(name, `etcd:${this.prefix}/`, [why]);
        continue;
      }
      const text = found.value.toString('utf8');
      if (this.known.get(name) === text) continue;
      this.known.set(name, text);
      deliverJsonBlob(handler, name, found.value, `etcd:${this.prefix}/${found.key}`, this.baseDir);
    }
    // A complete listing: services left over from a replaced source and not named here go.
    handler.listed?.();
  }

  async stop(): Promise<void> {
    this.cache?.stop();
    this.client?.release();
  }
}
