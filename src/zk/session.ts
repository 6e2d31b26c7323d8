import zookeeper, { type Client } from 'node-zookeeper-client';

const SESSION_TIMEOUT_MS = 10_000;

/**
 * One ZooKeeper session per connection string, shared by every service config
 * and watcher that names it (many watchers on one ensemble must not open many
 * sessions). Reference counted: the last `release` closes it.
 */
export class ZkSession {
  private static readonly open = new Map<string, ZkSession>();
  private refs = 0;
  readonly client: Client;
  private ready: Promise<void>;

  static acquire(connectString: string): ZkSession {
    let s = ZkSession.open.get(connectString);
    if (!s) {
      s = new ZkSession(connectString);
      ZkSession.open.set(connectString, s);
    }
    s.refs++;
    return s;
  }

  private constructor(readonly connectString: string) {
    this.client = zookeeper.createClient(connectString, { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: 200, retries: 0 });
    this.ready = new Promise((resolve) => this.client.once('connected', () => resolve()));
    this.client.connect();
  }

  /** Resolves once connected; rejects after `timeoutMs` (the client itself retries forever). */
  connected(timeoutMs = 10_000): Promise<void> {
    return withTimeout(this.ready, timeoutMs, `ZooKeeper ${this.connectString}: not connected after ${timeoutMs} ms`);
  }

  release(): void {
    if (--this.refs > 0) return;
    ZkSession.open.delete(this.connectString);
    this.client.close();
  }
}

/** Operations queue without a timeout while disconnected (shared/notes/test-servers.md §2): bound them. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
