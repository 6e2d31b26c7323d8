// The CommonJS exports object itself (esModuleInterop default import), the very object
// node-zookeeper-client's ConnectionManager holds as `net`: a namespace import would be a copy.
import net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Client } from 'node-zookeeper-client';
import { loadTlsMaterial, type TlsMaterial } from './tls-material';

/**
 * TLS to ZooKeeper's secureClientPort for node-zookeeper-client 1.1.3, which only opens
 * plain sockets (docs/zookeeper-tls.md says why this hook and not another client).
 *
 * The library's ConnectionManager.connect() does, in the callback it hands to its own
 * findNextServer(): `socket = net.connect(server)`, then wires its handlers to that socket.
 * useTls wraps findNextServer on this one client so that, for the synchronous run of that
 * callback only, `net.connect` is a TLS connector; it is restored in a finally before any
 * other code can run. Everything else (the protocol, retries, the handlers) is the library's.
 * A TLSSocket is a net.Socket: it emits 'connect' when TCP is up (the library then writes its
 * ConnectRequest, which TLS holds until the handshake is done), and 'data' in clear text.
 */

export interface ZkTlsOptions {
  /** PEM file of the CA(s) the server certificate must chain to; replaces the system CAs. */
  caFile: string;
  /** PEM client certificate and key, for servers with ssl.clientAuth=need. Both or neither. */
  certFile?: string;
  keyFile?: string;
  /** The name the server certificate must carry (and SNI) when it is not the connect-string host. */
  servername?: string;
  /** Bound on the TLS handshake once TCP is up; default the library's connect timeout (session timeout / servers). */
  handshakeTimeoutMs?: number;
  /** Files already read by loadTlsMaterial: a session replacing its client reuses them rather than reading again. */
  material?: TlsMaterial;
}

export interface TlsFailure {
  server: string;
  /** Node's or OpenSSL's code (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ECONNRESET, ...) when there is one. */
  code?: string;
  reason: string;
  at: number;
}

/** What useTls installed: the TLS failures to report while the client is not connected. */
export class ZkTls {
  handshakes = 0;
  failures = 0;
  /** Per server, its last attempt's TLS failure; a server whose last attempt failed otherwise (refused: an outage) has none. */
  private readonly latestByServer = new Map<string, TlsFailure>();

  constructor(readonly material: TlsMaterial) {}

  /** The most recent TLS failure among servers whose last attempt failed in TLS; undefined once connected. */
  get lastError(): TlsFailure | undefined {
    let last: TlsFailure | undefined;
    for (const f of this.latestByServer.values()) if (!last || f.at >= last.at) last = f;
    return last;
  }

  /** "TLS handshake with HOST:PORT failed: <reason>", or undefined when there is no failure to report. */
  describe(): string | undefined {
    const e = this.lastError;
    return e && `TLS handshake with ${e.server} failed: ${e.reason}`;
  }

  /** For useTls. */
  record(f: TlsFailure): void {
    this.failures++;
    this.streak++;
    this.latestByServer.set(f.server, f);
  }

  /** `server`'s last attempt's TLS failure, if it was one. */
  latest(server: string): TlsFailure | undefined {
    return this.latestByServer.get(server);
  }

  /** TLS failures in a row, across servers: the next attempt waits tlsRetryDelay(streak). */
  streak = 0;

  /** For useTls: `server`'s last attempt was no TLS failure (or, without a server, the client connected). */
  clear(server?: string): void {
    // Connected, or a server that is simply down: retries go back to the library's own pace.
    this.streak = 0;
    if (server === undefined) this.latestByServer.clear();
    else this.latestByServer.delete(server);
  }
}

/** The parts of node-zookeeper-client's ConnectionManager the hook touches (lib/ConnectionManager.js). */
interface ConnectionManager {
  findNextServer(callback: (server: { host: string; port: number | string }) => void): void;
  connect(): void;
  socket?: net.Socket;
  state: number;
  connectTimeout: number;
}
const HOOKED = Symbol('proxymgr.zkTls');
const CM_CLOSING = -1;
const CM_CLOSED = -2;
/**
 * After a failed handshake the next attempt waits, doubling up to the cap. The library
 * retries a lost connection at once and then within its spin delay (about 12 times a
 * second to one server), and each TLS attempt costs ZooKeeper a full handshake: measured,
 * one agent with the wrong CA used a third of a ZooKeeper core. A fleet with a bad CA
 * bundle must not take the ensemble down; a fixed server is still found within the cap.
 */
export const TLS_RETRY_BASE_MS = 250;
export const TLS_RETRY_MAX_MS = 8000;

/** The wait before the next attempt after `streak` TLS failures in a row (with up to 25 % less, so a fleet spreads out). */
export function tlsRetryDelay(streak: number, random: () => number = Math.random): number {
  if (streak <= 0) return 0;
  const full = Math.min(TLS_RETRY_MAX_MS, TLS_RETRY_BASE_MS * 2 ** (streak - 1));
  return Math.round(full * (0.75 + 0.25 * random()));
}

/**
 * Makes `client` speak TLS, with the server certificate verified against the CA file (and
 * its name against the host or `servername`). Call before client.connect(). Throws, before
 * any connection, when a file cannot be used or the library is not the shape the hook needs.
 * TLS failures never throw: they are recorded on the returned ZkTls (and passed to onFailure),
 * the socket closes, and the library tries the next server as after any lost connection.
 */
export function useTls(client: Client, opts: ZkTlsOptions, onFailure?: (f: TlsFailure) => void): ZkTls {
  const cm = (client as unknown as { connectionManager?: ConnectionManager & { [HOOKED]?: boolean } }).connectionManager;
  // Refuse rather than connect in clear text if a library upgrade moved the socket creation.
  if (!cm || typeof cm.findNextServer !== 'function' || !/\bnet\.connect\(/.test(String(cm.connect))) {
    throw new Error('ZooKeeper TLS: node-zookeeper-client does not open its socket the way the TLS hook expects (was it upgraded past 1.1.3?)');
  }
  if (cm[HOOKED]) throw new Error('ZooKeeper TLS: useTls called twice on one client');
  cm[HOOKED] = true;
  const state = new ZkTls(opts.material ?? loadTlsMaterial(opts));
  const fail = (server: string, reason: string, code?: string) => {
    const f = { server, reason, code, at: Date.now() };
    state.record(f);
    onFailure?.(f);
  };
  /**
   * A connection reset or closed in the middle of the handshake is also what a server going
   * down does: it counts as a TLS failure only when the same server does it twice in a row
   * (a server that is down refuses the next attempt, which clears it).
   */
  const cut = new Set<string>();
  const failCut = (server: string, reason: string, code?: string) => {
    if (!cut.has(server) && !state.latest(server)) {
      cut.add(server);
      return;
    }
    fail(server, reason, code);
  };
  client.on('connected', () => cut.clear());
  client.on('connected', () => state.clear());

  const connectTls = (server: { host: string; port: number | string }): net.Socket => {
    const where = `${server.host}:${server.port}`;
    let socket: TLSSocket;
    try {
      socket = tls.connect({ host: server.host, port: Number(server.port), secureContext: state.material.secureContext, servername: opts.servername, rejectUnauthorized: true });
    } catch (e) {
      // Thrown inside the library's nextTick callback this would end the process: hand back a
      // socket that fails instead, so the library retries like after any failed connect.
      fail(where, (e as Error).message, (e as NodeJS.ErrnoException).code);
      // Destroyed with an error: the library's 'error' handler clears the connect timer it armed,
      // which would otherwise fire later on the next socket.
      const dead = new net.Socket();
      process.nextTick(() => dead.destroy(e as Error));
      return dead;
    }
    watch(socket, where);
    return socket;
  };

  const watch = (socket: TLSSocket, where: string) => {
    let phase: 'tcp' | 'handshake' | 'secure' = 'tcp';
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    socket.once('connect', () => {
      phase = 'handshake';
      // The library stops its connect timer at 'connect' (TCP): without this a server that
      // accepts and never answers the ClientHello would hold the client for good.
      const ms = opts.handshakeTimeoutMs ?? cm.connectTimeout;
      timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${ms} ms`), { code: 'ETLSHANDSHAKETIMEOUT' })), ms);
      timer.unref();
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      phase = 'secure';
      state.handshakes++;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // Before TCP is up it is an outage, not TLS (ECONNREFUSED...). An OpenSSL error after
      // the handshake still counts: with TLS 1.3 a server refusing the client certificate
      // says so only after the client has finished its side of the handshake.
      if (phase === 'handshake' || e.code === 'EPROTO' || (e.code ?? '').startsWith('ERR_SSL_')) {
        failed = true;
        (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? failCut : fail)(where, explain(e, state.material.client !== undefined), e.code);
      } else if (phase === 'tcp') {
        // This server is down now: what its TLS said before is no longer the reason.
        cut.delete(where);
        state.clear(where);
      }
    });
    // Whether the server said anything after the handshake (its answer to the connect request).
    let answered = false;
    socket.once('data', () => (answered = true));
    socket.once('close', () => {
      clearTimeout(timer);
      if (failed || cm.state === CM_CLOSING) return;
      if (phase === 'handshake') failCut(where, 'connection closed before the TLS handshake finished');
      // With TLS 1.3 the client's side of the handshake is done before the server has checked
      // the client certificate: a server refusing it may just close (Node's TLS servers do).
      else if (phase === 'secure' && !answered && state.material.client) fail(where, 'the server closed the connection right after the TLS handshake, before answering: did it refuse the client certificate (cert_file)?');
    });
  };

  const findNextServer = cm.findNextServer;
  cm.findNextServer = function (this: ConnectionManager, callback) {
    return findNextServer.call(this, (server) => {
      const wait = tlsRetryDelay(state.streak);
      if (wait === 0) return connectNow(this, callback, server);
      // Referenced, like the library's own spin delay: a client still connecting keeps a CLI waiting.
      setTimeout(() => {
        // Closed meanwhile: nothing to connect for.
        if (this.state !== CM_CLOSING && this.state !== CM_CLOSED) connectNow(this, callback, server);
      }, wait);
    });
  };

  const connectNow = (self: ConnectionManager, callback: (server: { host: string; port: number | string }) => void, server: { host: string; port: number | string }) => {
    const plain = net.connect;
    let made: net.Socket | undefined;
    net.connect = ((s: { host: string; port: number | string }) => (made = connectTls(s))) as typeof net.connect;
    try {
      callback(server);
    } finally {
      net.connect = plain;
    }
    // Fail closed: a socket the connector did not make would carry the session in clear text.
    // Nothing has been written yet (the library writes on 'connect'), so destroying it now sends nothing.
    if (!made || self.socket !== made) {
      made?.destroy();
      // With an error, as above; and a listener of its own so that error cannot go unhandled.
      self.socket?.on('error', () => {}).destroy(new Error('socket opened without TLS'));
      fail(`${server.host}:${server.port}`, 'node-zookeeper-client opened a socket without the TLS hook; refusing to talk in clear text');
    }
  };
  return state;
}

/** Node's messages are exact but terse: say what the operator should look at. */
function explain(e: NodeJS.ErrnoException, clientCert: boolean): string {
  const code = e.code ?? '';
  // OpenSSL errors through a socket write come as "write EPROTO <hex>:error:<hex>:SSL routines:
  // <function>:<reason>:<file>:<line>:...": keep the reason, leave OpenSSL's internals out.
  const text = /SSL routines:[^:]*:([^:]+)/.exec(e.message)?.[1] ?? e.message.trim();
  const msg = `${text}${code && !text.includes(code) ? ` (${code})` : ''}`;
  if (['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT'].includes(code)) {
    return `${msg}: the server certificate is not signed by a CA in ca_file`;
  }
  if (code === 'CERT_HAS_EXPIRED') return `${msg}: the server certificate has expired`;
  if (code === 'CERT_NOT_YET_VALID') return `${msg}: the server certificate is not valid yet (clock?)`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${msg}: set servername to the name in the certificate, or list the server by that name`;
  // The server's alert: Java (ZooKeeper) says "bad certificate" both for a missing and for a refused client certificate.
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|certificate expired|handshake failure)/.test(text)) {
    return clientCert ? `${msg}: the server refused the client certificate (cert_file: signed by a CA in its truststore? expired?)` : `${msg}: the server wants a client certificate (cert_file, key_file)`;
  }
  if (/wrong version number/.test(text)) return `${msg}: the port does not speak TLS (the plain clientPort instead of secureClientPort?)`;
  if (code === 'ECONNRESET') return `${msg}: the server closed the connection during the handshake (not its secureClientPort, or it refused our certificate?)`;
  return msg;
}
