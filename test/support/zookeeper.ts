import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper, { type Client } from 'node-zookeeper-client';
import { formatAcl, parseAcl, type AclEntry } from '../../src/zk/acl';
import { digestId } from '../../src/zk/auth';
import { clientAcl } from '../../src/zk/ops';
import { freePort, waitUntil } from './net';
import { killChild } from './process';

/** Debian's ZooKeeper 3.8 jars (package `zookeeper`), run straight with java: no scripts, no service. */
const CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';

/** The `srvr` four-letter word's reply ('' when the server does not answer). */
function srvr(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('connect', () => s.write('srvr'));
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(''));
    s.setTimeout(1000, () => s.destroy());
  });
}

/** `srvr` answers with "Mode: " only once the server serves (`ruok` says imok too early). */
const serving = async (port: number) => (await srvr(port)).includes('Mode: ');

/** A 3-node ensemble on 127.0.0.1, for failover tests. */
export class TestEnsemble {
  readonly nodes: TestZooKeeper[] = [];

  get connectString(): string {
    return this.nodes.map((n) => n.connectString).join(',');
  }

  async start(size = 3): Promise<this> {
    const ports = await freePortsForEnsemble(size);
    const servers = ports.map((p, i) => `server.${i + 1}=127.0.0.1:${p.peer}:${p.election}`);
    for (let i = 0; i < size; i++) {
      const node = new TestZooKeeper();
      node.port = ports[i].client;
      node.extra = servers;
      node.myid = i + 1;
      this.nodes.push(node);
    }
    await Promise.all(this.nodes.map((n) => n.start()));
    return this;
  }

  async leader(): Promise<TestZooKeeper> {
    for (const n of this.nodes) if ((await srvr(n.port)).includes('Mode: leader')) return n;
    throw new Error('no leader');
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.cleanup()));
  }
}

async function freePortsForEnsemble(n: number): Promise<Array<{ client: number; peer: number; election: number }>> {
  const { freePorts } = await import('./net');
  const ports = await freePorts(3 * n);
  return Array.from({ length: n }, (_, i) => ({ client: ports[3 * i], peer: ports[3 * i + 1], election: ports[3 * i + 2] }));
}

/** A standalone ZooKeeper on 127.0.0.1, in its own temporary directory. */
export class TestZooKeeper {
  readonly dir = mkdtempSync(join(tmpdir(), 'pmgr-zk-'));
  port = 0;
  /** Ensemble members (`server.N=...` lines) and this node's id; empty for a standalone server. */
  extra: string[] = [];
  myid = 0;
  /** Jars added to the classpath (the Netty ones that TLS needs: test/support/zookeeper-tls.ts). */
  jars: string[] = [];
  /** `user:password` of a superuser (ZooKeeper's superDigest): a test client authenticated as it passes every ACL. */
  superUser?: string;
  private proc?: ChildProcess;

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    writeFileSync(
      join(this.dir, 'zoo.cfg'),
      [
        'tickTime=500',
        'initLimit=10',
        'syncLimit=5',
        `dataDir=${join(this.dir, 'data')}`,
        `clientPort=${this.port}`,
        'clientPortAddress=127.0.0.1',
        'maxClientCnxns=0',
        'admin.enableServer=false',
        '4lw.commands.whitelist=*',
        ...this.extra,
        '',
      ].join('\n'),
    );
    if (this.myid) writeFileSync(join(this.dir, 'data', 'myid'), `${this.myid}\n`);
    this.proc = spawn(
      'java',
      ['-Xms32m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', ...(this.superUser ? [`-Dzookeeper.DigestAuthenticationProvider.superDigest=${digestId(this.superUser)}`] : []), '-cp', [CLASSPATH, ...this.jars].join(':'), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', join(this.dir, 'zoo.cfg')],
      { stdio: 'ignore' },
    );
    await waitUntil('ZooKeeper to serve', () => serving(this.port), 20_000, 50);
    return this;
  }

  stop(): Promise<void> {
    return killChild(this.proc);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client for the test itself to write znodes with; `auth` (`user:password`) makes it that digest identity. */
  async client(auth?: string, chroot = ''): Promise<ZkTestClient> {
    const c = zookeeper.createClient(this.connectString + chroot, { sessionTimeout: 5000, spinDelay: 100, retries: 2 });
    if (auth) c.addAuthInfo('digest', Buffer.from(auth));
    await new Promise<void>((r) => {
      c.once('connected', () => r());
      c.connect();
    });
    return new ZkTestClient(c);
  }
}

export class ZkTestClient {
  constructor(readonly client: Client) {}

  private call<T>(fn: (cb: (err: unknown, res?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
  }

  mkdirp(path: string): Promise<string> {
    return this.call((cb) => this.client.mkdirp(path, (e, p) => cb(e, p)));
  }

  /** Creates or overwrites `path` with `data` (JSON-encoded unless a string). */
  async put(path: string, data: unknown): Promise<void> {
    const buf = Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
    const exists = await this.call<unknown>((cb) => this.client.exists(path, (e, stat) => cb(e, stat)));
    if (exists) await this.call((cb) => this.client.setData(path, buf, -1, (e) => cb(e)));
    else await this.call((cb) => this.client.mkdirp(path, buf, (e) => cb(e)));
  }

  children(path: string): Promise<string[]> {
    return this.call<string[]>((cb) => this.client.getChildren(path, (e, ch) => cb(e, ch))).catch(() => []);
  }

  get(path: string): Promise<Buffer> {
    return this.call<Buffer>((cb) => this.client.getData(path, (e, d) => cb(e, d)));
  }

  remove(path: string): Promise<void> {
    return this.call((cb) => this.client.remove(path, -1, (e) => cb(e)));
  }

  /** Creates `path` (its parent must exist) with `data` and an ACL spec (`src/zk/acl.ts`). */
  create(path: string, data: unknown, acl: string): Promise<void> {
    const parsed = parseAcl(acl);
    if (!parsed.ok) throw new Error(parsed.error);
    const buf = Buffer.from(typeof data === 'string' ? data : JSON.stringify(data));
    return this.call((cb) => this.client.create(path, buf, clientAcl(parsed.acl), zookeeper.CreateMode.PERSISTENT, (e) => cb(e)));
  }

  /** The ACL of `path` as a canonical spec (`formatAcl`). */
  async acl(path: string): Promise<string> {
    const acls = await this.call<Array<{ permission: number; id: { scheme: string; id: string } }>>((cb) => this.client.getACL(path, (e, a) => cb(e, a as never)));
    return formatAcl(acls.map((a): AclEntry => ({ scheme: a.id.scheme as AclEntry['scheme'], id: a.id.id, perms: a.permission })));
  }

  /** Sets the data of `path`; resolves to ZooKeeper's error name (`NO_AUTH`, ...) or 'OK'. */
  trySet(path: string, data: string): Promise<string> {
    return new Promise((resolve) => this.client.setData(path, Buffer.from(data), -1, (e) => resolve(e ? (e as { name: string }).name : 'OK')));
  }

  /** Removes `path`; resolves to ZooKeeper's error name or 'OK'. */
  tryRemove(path: string): Promise<string> {
    return new Promise((resolve) => this.client.remove(path, -1, (e) => resolve(e ? (e as { name: string }).name : 'OK')));
  }

  /** Lists `path`; resolves to the children or ZooKeeper's error name. */
  tryChildren(path: string): Promise<string[] | string> {
    return new Promise((resolve) => this.client.getChildren(path, (e, ch) => resolve(e ? (e as { name: string }).name : ch)));
  }

  close(): void {
    this.client.close();
  }
}
