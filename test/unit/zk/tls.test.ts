import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { tlsRetryDelay, TLS_RETRY_MAX_MS, useTls, ZkTls } from '../../../src/zk/tls';
import { loadTlsMaterial } from '../../../src/zk/tls-material';
import { until } from '../../support/until';

// The hook against the real node-zookeeper-client, with a Node TLS server standing in for
// ZooKeeper's connect handshake (test/integration/zookeeper-tls.test.ts uses a real ZooKeeper).
// Certificates are made here with openssl: fast, and nothing to expire in the repo.

const dir = mkdtempSync(join(tmpdir(), 'pmgr-tls-unit-'));
const f = (name: string) => join(dir, name);
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

function ca(name: string): void {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`, '-days', '2');
}
function leaf(name: string, signer: string, san: string): void {
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

beforeAll(() => {
  ca('ca');
  ca('other-ca');
  leaf('server', 'ca', 'IP:127.0.0.1,DNS:zk.test');
  leaf('client', 'ca', 'DNS:client.test');
  leaf('stranger', 'other-ca', 'DNS:client.test');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A ZooKeeper ConnectResponse: length, protocol version, timeout, session id, 16-byte password. */
function connectResponse(): Buffer {
  const b = Buffer.alloc(40);
  b.writeInt32BE(36, 0);
  b.writeInt32BE(0, 4);
  b.writeInt32BE(10_000, 8);
  b.writeBigInt64BE(42n, 12);
  b.writeInt32BE(16, 20);
  return b;
}

interface FakeZk {
  port: number;
  /** Packets that arrived over a completed TLS session: the first must be a 44-byte ConnectRequest. */
  firstPackets: Buffer[];
  tcpConnections: number;
  close(): Promise<void>;
}

/** Accepts TLS with the server certificate, answers the connect handshake, then keeps the socket open. */
async function fakeZk(opts: tls.TlsOptions = {}): Promise<FakeZk> {
  const out = { port: 0, firstPackets: [] as Buffer[], tcpConnections: 0, close: async () => {} };
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: readFileSync(f('server.key')), cert: readFileSync(f('server.pem')), ...opts }, (s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 48 && out.firstPackets.length < 10 && !s.writableEnded) {
        out.firstPackets.push(buf.subarray(0, 48));
        s.write(connectResponse());
        buf = Buffer.alloc(0);
      }
    });
    s.on('error', () => {});
  });
  server.on('connection', (s: net.Socket) => {
    out.tcpConnections++;
    sockets.add(s);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  out.port = (server.address() as net.AddressInfo).port;
  out.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return out;
}

const clients: Client[] = [];
function client(port: number): Client {
  const c = zookeeper.createClient(`127.0.0.1:${port}`, { sessionTimeout: 10_000, spinDelay: 50, retries: 0 });
  clients.push(c);
  return c;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('loadTlsMaterial', () => {
  test('reads the CA and the client pair, and says what it read', () => {
    const m = loadTlsMaterial({ caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') });
    expect(m.ca.map((c) => c.subject)).toEqual(['CN=ca']);
    expect(m.client?.subject).toBe('CN=client');
    expect(m.client!.validTo.getTime()).toBeGreaterThan(Date.now());
  });

  test.each([
    ['a missing CA file', { caFile: '/nonexistent/ca.pem' }, /cannot read ca_file \/nonexistent\/ca\.pem: ENOENT/],
    ['a CA file with no certificate', { caFile: 'server.key' }, /ca_file .*server\.key holds no PEM certificate/],
    ['a certificate without its key', { caFile: 'ca.pem', certFile: 'client.pem' }, /cert_file and key_file go together/],
    ['a key that is not the certificate\'s', { caFile: 'ca.pem', certFile: 'client.pem', keyFile: 'server.key' }, /cert_file .*client\.pem \/ key_file .*server\.key: .*mismatch/],
  ])('refuses %s with the option and file named', (_what, opts, message) => {
    const abs = Object.fromEntries(Object.entries(opts).map(([k, v]) => [k, v.startsWith('/') ? v : f(v)]));
    expect(() => loadTlsMaterial(abs as { caFile: string })).toThrow(message);
  });
});

describe('ZkTls', () => {
  test('reports the newest failure among servers whose last attempt failed in TLS', () => {
    const t = new ZkTls(loadTlsMaterial({ caFile: f('ca.pem') }));
    t.record({ server: 'a:1', reason: 'expired', at: 1 });
    t.record({ server: 'b:1', reason: 'unknown CA', at: 2 });
    expect(t.describe()).toBe('TLS handshake with b:1 failed: unknown CA');
    t.clear('b:1'); // b refused TCP since: down, which is not a TLS failure
    expect(t.describe()).toBe('TLS handshake with a:1 failed: expired');
    t.clear(); // connected
    expect(t.describe()).toBeUndefined();
    expect(t.failures).toBe(2);
  });

  test('counts failures in a row; connecting or a server simply down resets the streak', () => {
    const t = new ZkTls(loadTlsMaterial({ caFile: f('ca.pem') }));
    t.record({ server: 'a:1', reason: 'unknown CA', at: 1 });
    t.record({ server: 'a:1', reason: 'unknown CA', at: 2 });
    expect(t.streak).toBe(2);
    t.clear('a:1');
    expect(t.streak).toBe(0);
    t.record({ server: 'a:1', reason: 'unknown CA', at: 3 });
    t.clear();
    expect(t.streak).toBe(0);
  });
});

describe('tlsRetryDelay', () => {
  test.each<[number, number, number]>([
    // streak, random, ms
    [0, 0.5, 0],
    [1, 1, 250],
    [1, 0, 188],
    [2, 1, 500],
    [3, 1, 1000],
    [5, 1, 4000],
    [6, 1, 8000],
    [7, 1, 8000],
    [40, 0, 6000],
  ])('after %i failures in a row (random %d): %i ms', (streak, random, ms) => {
    expect(tlsRetryDelay(streak, () => random)).toBe(ms);
  });

  test('never more than the cap', () => {
    for (let s = 0; s < 100; s++) expect(tlsRetryDelay(s)).toBeLessThanOrEqual(TLS_RETRY_MAX_MS);
  });
});

describe('useTls', () => {
  let zk: FakeZk | undefined;
  afterEach(async () => {
    await zk?.close();
    zk = undefined;
  });

  test('the library\'s connect handshake goes over TLS, verified against the CA, and the client connects', async () => {
    zk = await fakeZk();
    const c = client(zk.port);
    const plain = net.connect;
    const state = useTls(c, { caFile: f('ca.pem') });
    const connected = new Promise<void>((r) => c.once('connected', () => r()));
    c.connect();
    await connected;
    // Written by the library at TCP 'connect', before the handshake: TLS held it until it could send it.
    const first = zk.firstPackets[0];
    expect(first.readInt32BE(0)).toBe(44);
    expect(first.readInt32BE(4)).toBe(0); // protocol version
    expect(state.handshakes).toBe(1);
    expect(state.describe()).toBeUndefined();
    expect(net.connect).toBe(plain); // restored after the library's callback
  });

  test('servername is the name checked when the connect string holds an address the certificate lacks', async () => {
    zk = await fakeZk();
    const c = client(zk.port);
    // The certificate has 127.0.0.1 and zk.test: a wrong servername must fail, the right one pass.
    const wrong = useTls(c, { caFile: f('ca.pem'), servername: 'other.test' });
    c.connect();
    await until(() => wrong.lastError !== undefined, 'a hostname failure');
    expect(wrong.describe()).toMatch(/^TLS handshake with 127\.0\.0\.1:\d+ failed: .*other\.test.*set servername/);
    const good = client(zk.port);
    useTls(good, { caFile: f('ca.pem'), servername: 'zk.test' });
    await new Promise<void>((r) => {
      good.once('connected', () => r());
      good.connect();
    });
  });

  test('a server certificate from another CA is refused, clearly, and the client keeps retrying', async () => {
    zk = await fakeZk();
    const c = client(zk.port);
    const failures: string[] = [];
    const state: ZkTls = useTls(c, { caFile: f('other-ca.pem') }, (e) => failures.push(e.code ?? ''));
    c.connect();
    await until(() => zk!.tcpConnections >= 3, 'the client to retry', 5000);
    expect(state.describe()).toMatch(/^TLS handshake with 127\.0\.0\.1:\d+ failed: .*not signed by a CA in ca_file/);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    expect(new Set(failures)).toEqual(new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']));
    expect(zk.firstPackets).toHaveLength(0); // nothing of the session reached the untrusted server
  });

  test('a server asking for a client certificate gets the configured one; without one, or with one it does not trust, the error says which', async () => {
    zk = await fakeZk({ requestCert: true, rejectUnauthorized: true, ca: readFileSync(f('ca.pem')) });
    const without = client(zk.port);
    const state = useTls(without, { caFile: f('ca.pem') });
    without.connect();
    await until(() => state.lastError !== undefined, 'a refused handshake', 5000);
    expect(state.describe()).toMatch(/: the server wants a client certificate \(cert_file, key_file\)$/);
    const stranger = client(zk.port);
    const refused = useTls(stranger, { caFile: f('ca.pem'), certFile: f('stranger.pem'), keyFile: f('stranger.key') });
    stranger.connect();
    await until(() => refused.lastError !== undefined, 'a refused client certificate', 5000);
    // The Node server closes without an alert; ZooKeeper's alert is in the integration test.
    expect(refused.describe()).toMatch(/failed: the server closed the connection right after the TLS handshake, before answering: did it refuse the client certificate/);
    const withCert = client(zk.port);
    useTls(withCert, { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') });
    await new Promise<void>((r) => {
      withCert.once('connected', () => r());
      withCert.connect();
    });
  });

  /** A plain TCP server; every socket it accepted is destroyed by `close`. */
  async function plainServer(onSocket: (s: net.Socket) => void) {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      onSocket(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const close = () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
    return { port: (server.address() as net.AddressInfo).port, close };
  }

  test('a server that accepts and never answers the ClientHello is cut after the handshake bound', async () => {
    const silent = await plainServer(() => {});
    const c = client(silent.port);
    try {
      const state = useTls(c, { caFile: f('ca.pem'), handshakeTimeoutMs: 200 });
      c.connect();
      await until(() => state.failures >= 2, 'the handshake bound, twice', 3000);
      expect(state.describe()).toMatch(/failed: no TLS handshake within 200 ms/);
    } finally {
      c.close();
      await silent.close();
    }
  });

  test('a port that does not speak TLS (the plain clientPort) is named as such', async () => {
    // What ZooKeeper's plain port does with a ClientHello: reads garbage, answers or closes.
    const plain = await plainServer((s) => s.end(Buffer.from('imok\n')));
    const c = client(plain.port);
    try {
      const state = useTls(c, { caFile: f('ca.pem') });
      c.connect();
      await until(() => state.failures >= 2, 'a failed handshake, twice', 3000);
      expect(state.describe()).toMatch(/does not speak TLS/);
    } finally {
      c.close();
      await plain.close();
    }
  });

  test('fails closed: a library that opens its socket some other way is refused before it says a byte', async () => {
    let received = 0;
    const plainServer = net.createServer((s) => s.on('data', (d) => (received += d.length)));
    await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
    const port = (plainServer.address() as net.AddressInfo).port;
    // The library's shape (findNextServer, then a socket in its callback) but not its net.connect call.
    const cm = {
      state: 1,
      connectTimeout: 1000,
      socket: undefined as net.Socket | undefined,
      findNextServer(cb: (s: { host: string; port: number }) => void) {
        process.nextTick(() => cb({ host: '127.0.0.1', port }));
      },
      connect() {
        // net.connect( is named here only so the install check passes
        this.findNextServer((s) => {
          this.socket = net.createConnection(s);
          this.socket.on('connect', () => this.socket!.write('plaintext'));
          this.socket.on('error', () => {});
        });
      },
    };
    const fake = Object.assign(new EventEmitter(), { connectionManager: cm }) as unknown as Client;
    const state = useTls(fake, { caFile: f('ca.pem') });
    cm.connect();
    await until(() => state.lastError !== undefined, 'the bypass to be caught');
    await new Promise((r) => setTimeout(r, 100));
    plainServer.close();
    expect(state.describe()).toMatch(/refusing to talk in clear text/);
    expect(cm.socket!.destroyed).toBe(true);
    expect(received).toBe(0);
  });

  test('files read once are reused: a replacement client does not read them again', async () => {
    zk = await fakeZk();
    const material = loadTlsMaterial({ caFile: f('ca.pem') });
    const c = client(zk.port);
    // The path no longer matters once the material is given.
    useTls(c, { caFile: '/nonexistent/ca.pem', material });
    await new Promise<void>((r) => {
      c.once('connected', () => r());
      c.connect();
    });
  });

  test('refuses to install on a client it does not recognise, or twice', () => {
    expect(() => useTls({ connectionManager: { findNextServer() {}, connect() {} } } as unknown as Client, { caFile: f('ca.pem') })).toThrow(/upgraded past 1\.1\.3/);
    // Never connected: the library's close() would throw on a client that never connected.
    const c = zookeeper.createClient('127.0.0.1:1');
    useTls(c, { caFile: f('ca.pem') });
    expect(() => useTls(c, { caFile: f('ca.pem') })).toThrow(/twice/);
  });
});
