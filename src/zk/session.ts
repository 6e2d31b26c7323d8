import { EventEmitter } from 'node:events';
import zookeeper, { type Client } from 'node-zookeeper-client';

const SESSION_TIMEOUT_MS = 10_000;
const WATCHDOG_EVERY_MS = 2_000;

/**
 * One ZooKeeper session per connection string, shared by every service config
 * and watcher that names it (many watchers on one ensemble must not open many
 * sessions). Reference counted: the last `release` closes it.
 *
 * node-zookeeper-client never notices a hung server and reports expiry only after
 * it reconnects, and an expired client is dead (shared/notes/test-servers.md §2).
 * So a watchdog pings the server; when a ping has not come back within the session
 * timeout, or the session expired, the client is replaced and 'replaced' is emitted
 * so that every user re-reads and re-arms its watches. Nothing is removed meanwhile.
 */
export class ZkSession extends EventEmitter {
  private static readonly open = new Map<string, ZkSession>();
  private refs = 0;
  private current!: Client;
  private ready!: Promise<void>;
  private watchdog?: NodeJS.Timeout;
  private closed = false;
  replacements = 0;

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
    super();
    this.connect();
    this.watchdog = setInterval(() => this.ping(), WATCHDOG_EVERY_MS);
    this.watchdog.unref();
  }

  get client(): Client {
    return this.current;
  }

  /** Resolves once connected; rejects after `timeoutMs` (the client itself retries forever). */
  connected(timeoutMs = 10_000): Promise<void> {
    return withTimeout(this.ready, timeoutMs, `ZooKeeper ${this.connectString}: not connected after ${timeoutMs} ms`);
  }

  release(): void {
    if (--this.refs > 0) return;
    this.closed = true;
    clearInterval(this.watchdog);
    ZkSession.open.delete(this.connectString);
    this.current.close();
  }

  private connect(): void {
    const client = zookeeper.createClient(this.connectString, { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: 200, retries: 0 });
    this.current = client;
    this.ready = new Promise((resolve) => client.once('connected', () => resolve()));
    let seen = false;
    client.on('connected', () => {
      // Same session again after a disconnect: watches were re-registered by the client,
      // but users re-read anyway, so nothing depends on that alone.
      if (seen && client === this.current) this.emit('reconnected');
      seen = true;
    });
    client.on('expired', () => {
      if (client === this.current) this.replace('session expired');
    });
    client.connect();
  }

  private pingStarted?: number;

  /** Only while connected: a disconnected client is already reconnecting on its own. */
  private ping(): void {
    if (this.closed || this.current.getState() !== zookeeper.State.SYNC_CONNECTED) {
      this.pingStarted = undefined;
      return;
    }
    if (this.pingStarted !== undefined) {
      if (Date.now() - this.pingStarted > SESSION_TIMEOUT_MS) this.replace(`no answer for ${SESSION_TIMEOUT_MS} ms (hung server?)`);
      return;
    }
    const client = this.current;
    const started = (this.pingStarted = Date.now());
    client.exists('/', (err) => {
      if (client === this.current && this.pingStarted === started) this.pingStarted = undefined;
      void err;
    });
  }

  private replace(why: string): void {
    if (this.closed) return;
    const old = this.current;
    this.pingStarted = undefined;
    this.replacements++;
    this.connect();
    old.close();
    this.emit('replaced', why);
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
