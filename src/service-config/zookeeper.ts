import { ChildrenCache } from '../zk/children-cache';
import { ZkSession } from '../zk/session';
import type { ServiceConfigHandler, ServiceConfigSource } from './source';

const MAX_BYTES = 1024 * 1024;

/** `service_config: {type: zookeeper, servers, path}`: each child of `path` is a service, its data the blob (JSON). */
export class ZooKeeperServiceConfig implements ServiceConfigSource {
  private session?: ZkSession;
  private cache?: ChildrenCache;
  private known = new Map<string, string>();

  constructor(
    private readonly servers: string,
    private readonly path: string,
    /** Relative paths in blobs (a `file` watcher's file) resolve against this directory. */
    private readonly baseDir: string,
  ) {}

  describe(): string {
    return `zookeeper:${this.servers}${this.path}`;
  }

  problem(): { message: string; since: number } | undefined {
    const s = this.session;
    if (!s || s.isConnected) return undefined;
    return { message: `service config ${this.describe()}: ZooKeeper disconnected; keeping every service as it is`, since: s.stateSince };
  }

  async start(handler: ServiceConfigHandler): Promise<void> {
    this.session = ZkSession.acquire(this.servers);
    await this.session.connected();
    let first: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (first = resolve));
    this.cache = new ChildrenCache(this.session, this.path, {
      onChange: (children) => {
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
          const origin = `zookeeper:${this.path}/${name}`;
          if (data.length > MAX_BYTES) handler.invalid(name, origin, [`larger than ${MAX_BYTES} bytes`]);
          else {
            try {
              handler.upsert(name, JSON.parse(text), origin, this.baseDir);
            } catch (err) {
              handler.invalid(name, origin, [`cannot decode JSON: ${(err as Error).message}`]);
            }
          }
        }
        first();
      },
      // An unreachable or missing path keeps every service as it is.
      onError: () => first(),
    });
    this.cache.start();
    await initial;
  }

  async stop(): Promise<void> {
    this.cache?.stop();
    this.session?.release();
  }
}
