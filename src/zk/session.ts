import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import zookeeper, { type Client } from 'node-zookeeper-client';
import type { ZkCredentials } from './auth';
import { tlsKey, type ZkTarget } from './target';
import { useTls, type ZkTls, type ZkTlsOptions } from './tls';
import type { TlsMaterial } from './tls-material';

const SESSION_TIMEOUT_MS = 10_000;
const SPIN_DELAY_MS = 200;
const HANDSHAKE_MS = 1_000;
const STUCK_MS = 6 * SESSION_TIMEOUT_MS;
// node-zookeeper-client's ConnectionManager states (lib/ConnectionManager.js).
const CM_CONNECTING = 1;
const CM_CONNECTED = 2;

/** The parts of node-zookeeper-client's connection manager used to work around its gaps. */
interface ConnectionInternals {
  state: number;
  socket?: Socket;
  pendingBuffer: unknown;
  on(event: 'state', listener: (state: number) => void): void;
  onSocketConnected(...args: unknown[]): unknown;
  packetQueue: { queue: Array<{ request: { header: { type: number } | null } }> };
}
// ZooKeeper's opcode of an auth packet (jute.OP_CODES.AUTH).
const OP_AUTH = 100;
// As often as ZooKeeper's own clients ping an idle session (a third of the timeout): the
// watchdog's request keeps the socket busy, so the client's own pings stop and a fleet
// costs the ensemble what any fleet of idle ZooKeeper clients does (bench/fleet.ts).
const WATCHDOG_EVERY_MS = Math.round(SESSION_TIMEOUT_MS / 3);

/** How a session connects besides its connect string. More may come (TLS): each part of its identity goes into `sessionKey`. */
export interface ZkSessionOptions {
  /** Sent with every (re)connect, by this client and by each one that replaces it. */
  auth?: ZkCredentials;
  /** TLS to the secureClientPort; the files were read once, a replacement client reuses them. */
  tls?: ZkTlsOptions & { material: TlsMaterial };
}

/** Sessions are shared by connect string and identity: two identities on one ensemble see different znodes. */
export function sessionKey(connectString: string, o: ZkSessionOptions): string {
  return `${connectString}\n${o.auth ? `digest ${o.auth.key()}` : ''}\n${tlsKey(o.tls)}`;
}

/**
 * One ZooKeeper session per connection string and identity, shared by every service
 * config and watcher that names it (many watchers on one ensemble must not open many
 * sessions). Reference counted: the last `release` closes it.
 *
 * node-zookeeper-client never notices a hung server and reports expiry only after
 * it reconnects, and an expired client is dead (docs/runtime-facts.md).
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
  /** The current client's TLS state, when the session speaks TLS. */
  private tls?: ZkTls;
  private lastTlsFailure?: string;
  /** Connected now, and since when the state last changed (epoch ms): for /status, /metrics and grace periods. */
  isConnected = false;
  stateSince = Date.now();

  /** Every open session, for the connection-state metric. */
  static all(): ZkSession[] {
    return [...ZkSession.open.values()];
  }

  /** The session of a resolved target (an ensemble, the service-config source): its credentials and TLS. */
  static forTarget(t: Pick<ZkTarget, 'servers' | 'auth' | 'tls'>): ZkSession {
    return ZkSession.acquire(t.servers, { auth: t.auth, tls: t.tls });
  }

  static acquire(connectString: string, options: ZkSessionOptions = {}): ZkSession {
    const key = sessionKey(connectString, options);
    let s = ZkSession.open.get(key);
    if (!s) {
      s = new ZkSession(connectString, options, key);
      ZkSession.open.set(key, s);
    }
    s.refs++;
    return s;
  }

  private constructor(
    readonly connectString: string,
    readonly options: ZkSessionOptions,
    private readonly key: string,
  ) {
    super();
    // Every watcher and children cache on this ensemble listens here (thousands on a big
    // host): not a leak, so no "possible EventEmitter memory leak" warning at the 11th.
    this.setMaxListeners(0);
    this.connect();
    this.watchdog = setInterval(() => this.ping(), WATCHDOG_EVERY_MS);
    this.watchdog.unref();
  }

  get client(): Client {
    return this.current;
  }

  /** Resolves once connected; rejects after `timeoutMs` (the client itself retries forever), with the TLS failure if there was one. */
  connected(timeoutMs = 10_000): Promise<void> {
    return withTimeout(this.ready, timeoutMs, `ZooKeeper ${this.connectString}: not connected after ${timeoutMs} ms`).catch((err: Error) => {
      const why = this.tlsFailure();
      throw why ? new Error(`${err.message}: ${why}`) : err;
    });
  }

  /** The current client's last TLS failure ("TLS handshake with HOST:PORT failed: ..."), while it is not connected. */
  tlsFailure(): string | undefined {
    return this.isConnected ? undefined : this.tls?.describe();
  }

  /** `tlsFailure` as a note for an error message: " (TLS handshake with ...)", or '' when there is none. */
  tlsNote(): string {
    const why = this.tlsFailure();
    return why ? ` (${why})` : '';
  }

  release(): void {
    if (--this.refs > 0) return;
    this.closed = true;
    clearInterval(this.watchdog);
    ZkSession.open.delete(this.key);
    this.current.close();
  }

  private connect(): void {
    const client = zookeeper.createClient(this.connectString, { sessionTimeout: SESSION_TIMEOUT_MS, spinDelay: SPIN_DELAY_MS, retries: 0 });
    // Before connect(): the client then sends it right after every handshake, before any request.
    const auth = this.options.auth;
    if (auth) client.addAuthInfo(auth.scheme, auth.authData());
    // Also before connect(): the first socket is already a TLS one.
    if (this.options.tls) this.tls = useTls(client, this.options.tls, () => this.noteTlsFailure());
    this.current = client;
    this.clientSince = Date.now();
    const internals = (client as unknown as { connectionManager?: ConnectionInternals }).connectionManager;
    if (internals) this.boundHandshake(client, internals);
    if (internals && auth) authFirst(internals);
    this.ready = new Promise((resolve) => client.once('connected', () => resolve()));
    // A replacement made while the server was away: the re-reads its 'replaced' event
    // started may have failed meanwhile, so its first connect counts as a reconnect.
    let seen = this.replacements > 0;
    let fresh = true;
    client.on('connected', () => {
      if (client !== this.current) return;
      this.setConnected(true);
      // Same session again after a disconnect: watches were re-registered by the client,
      // but users re-read anyway, so nothing depends on that alone.
      if (seen) this.emit('reconnected', { newSession: fresh });
      fresh = false;
      seen = true;
    });
    client.on('disconnected', () => {
      // node-zookeeper-client 1.1.3 keeps a partly received packet across reconnects, which
      // would be glued to the next server's connect response. The reconnect starts right after this event.
      if (internals) internals.pendingBuffer = null;
      if (client === this.current) this.setConnected(false);
    });
    client.on('expired', () => {
      if (client === this.current) this.replace('session expired');
    });
    client.connect();
  }

  /**
   * The client bounds the TCP connect but not the handshake after it: a ZooKeeper that is
   * still starting accepts the connection and never answers, and the client waits there
   * for good (measured: about one restart in ten under load). A handshake not answered in
   * time is cut, so the client retries on a fresh socket with its session intact. The
   * bound doubles after each cut, so that a slow but working server is not cut forever.
   * Only the handshake is timed: a socket still connecting is left to the client's own
   * connect timeout (cutting it would leave that timer to kill the next, healthy socket).
   */
  private boundHandshake(client: Client, cm: ConnectionInternals): void {
    let timer: NodeJS.Timeout | undefined;
    let cuts = 0;
    const handshaking = (socket: Socket) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (cm.state !== CM_CONNECTING || cm.socket !== socket || socket.destroyed || client !== this.current) return;
        cuts++;
        socket.destroy();
      }, Math.min(HANDSHAKE_MS * 2 ** cuts, SESSION_TIMEOUT_MS));
      timer.unref();
    };
    cm.on('state', (state: number) => {
      clearTimeout(timer);
      if (state === CM_CONNECTED) cuts = 0;
      if (state !== CM_CONNECTING || client !== this.current) return;
      // The client opens the socket after up to SPIN_DELAY_MS (the TLS hook may wait longer
      // after failed handshakes): look until it exists.
      const look = () => {
        const socket = cm.socket;
        if (cm.state !== CM_CONNECTING || client !== this.current) return;
        if (!socket || socket.destroyed) {
          timer = setTimeout(look, SPIN_DELAY_MS);
          timer.unref();
          return;
        }
        if (socket.connecting) socket.once('connect', () => handshaking(socket));
        else handshaking(socket);
      };
      timer = setTimeout(look, SPIN_DELAY_MS + 10);
      timer.unref();
    });
  }

  /** A failed TLS attempt (the client retries every few hundred ms): 'tls_failure' only when the reason changes. */
  private noteTlsFailure(): void {
    const why = this.tls?.describe();
    if (why === undefined || why === this.lastTlsFailure) return;
    this.lastTlsFailure = why;
    this.emit('tls_failure', why);
  }

  private setConnected(up: boolean): void {
    if (up === this.isConnected) return;
    this.isConnected = up;
    this.stateSince = Date.now();
    if (up) this.lastTlsFailure = undefined;
    if (!up) this.emit('disconnected');
  }

  private pingStarted?: number;
  /** When the current client was created. */
  private clientSince = Date.now();

  /** Only while connected: a disconnected client is already reconnecting on its own. */
  private ping(): void {
    if (this.closed) return;
    if (this.current.getState() !== zookeeper.State.SYNC_CONNECTED) {
      this.pingStarted = undefined;
      // A safety net for a client stuck in a way the handshake bound does not catch: long past
      // the session timeout the server has expired the session anyway, so a fresh client loses nothing.
      if (!this.isConnected && Date.now() - Math.max(this.stateSince, this.clientSince) > STUCK_MS) this.replace(`not connected for ${STUCK_MS} ms`);
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
    this.setConnected(false);
    this.connect();
    old.close();
    this.emit('replaced', why);
  }
}

/**
 * Credentials live on the connection, not the session: after every (re)connect the client
 * queues its auth packets, but behind the requests made while it was away, which the server
 * would then answer NOAUTH (a false error at every start and reconnect). ZooKeeper's own
 * client sends them first; so does this one, once the original handler has queued them.
 */
function authFirst(cm: ConnectionInternals): void {
  const original = cm.onSocketConnected;
  cm.onSocketConnected = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    const q = cm.packetQueue.queue;
    const auth = q.filter((p) => p.request.header?.type === OP_AUTH);
    if (auth.length && q[0] !== auth[0]) cm.packetQueue.queue = [...auth, ...q.filter((p) => !auth.includes(p))];
    return result;
  };
}

/** Operations queue without a timeout while disconnected (docs/runtime-facts.md): bound them. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
