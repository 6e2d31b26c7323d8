import type { Logger } from '../log';
import { ChildrenCache } from '../zk/children-cache';
import { ZkSession } from '../zk/session';
import { describeTarget, type ZkTarget } from '../zk/target';
import { deliverJsonBlob, type ServiceConfigHandler, type ServiceConfigSource } from './source';

/** `service_config: {type: zookeeper, servers | ensemble, path}`: each child of `path` is a service, its data the blob (JSON). */
export class ZooKeeperServiceConfig implements ServiceConfigSource {
  private session?: ZkSession;
  private cache?: ChildrenCache;
  private known = new Map<string, string>();
  /** The path cannot be listed (NOAUTH, missing): every service stays as it is meanwhile. */
  private readError?: { message: string; since: number };

  constructor(
    private readonly target: ZkTarget,
    private readonly path: string,
    /** Relative paths in blobs (a `file` watcher's file) resolve against this directory. */
    private readonly baseDir: string,
    private readonly log?: Logger,
  ) {}

  describe(): string {
    return `zookeeper:${this.target.servers}${this.path}`;
  }

  problem(): { message: string; since: number } | undefined {
    const s = this.session;
    if (!s) return undefined;
    if (!s.isConnected) {
      return { message: `service config ${describeTarget(this.target)} ${this.path}: ZooKeeper disconnected${s.tlsNote()}; keeping every service as it is`, since: s.stateSince };
    }
    return this.readError;
  }

  async start(handler: ServiceConfigHandler): Promise<void> {
    this.session = ZkSession.forTarget(this.target);
    await this.session.connected();
    let first: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (first = resolve));
    this.cache = new ChildrenCache(this.session, this.path, {
      onChange: (children) => {
        if (this.readError) {
          this.log?.info({ event: 'service_config_recovered', bad_ms: Date.now() - this.readError.since, error: this.readError.message }, 'service config readable again');
          this.readError = undefined;
        }
        for (const name of [...this.known.keys()]) {
          if (!children.has(name)) {
            this.known.delete(name);
            handler.remove(name);
          }
        }
        for (const [name, data] of children) {
          const text = data.toString('utf8');
          if (this.known.get(name) === text) continue;
          this.known.set(name, text);
          deliverJsonBlob(handler, name, data, `zookeeper:${this.path}/${name}`, this.baseDir);
        }
        // A complete listing: services left over from a replaced source and not named here go.
        handler.listed?.();
        first();
      },
      // An unreachable, missing or forbidden path keeps every service as it is.
      onError: (message) => {
        const full = `service config ${describeTarget(this.target)} ${message}; keeping every service as it is`;
        if (this.readError?.message !== full) this.log?.warn({ event: 'service_config_error', error: full }, 'service config cannot be read');
        this.readError = { message: full, since: this.readError?.since ?? Date.now() };
        first();
      },
      // A blob that cannot be read is that service's problem, named by the service.
      onUnreadable: (name, message) => {
        this.known.delete(name);
        handler.invalid(name, `zookeeper:${this.path}/${name}`, [`cannot read: ${message}`]);
      },
    });
    this.cache.start();
    await initial;
  }

  async stop(): Promise<void> {
    this.cache?.stop();
    this.session?.release();
  }
}
