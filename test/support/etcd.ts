import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { freePorts, waitUntil } from './net';
import { killChild } from './process';
import { TcpProxy } from './tcp-proxy';

const run = promisify(execFile);

/** TLS files for a member: its certificate and key, the CA its clients must chain to, and whether clients need a certificate. */
export interface EtcdTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
  /** Clients must present a certificate the CA signed (`--client-cert-auth`); etcdctl and `client()` then use this one. */
  client?: { certFile: string; keyFile: string };
}

/** One etcd member on 127.0.0.1 (Debian's `etcd-server`), its data in a temporary directory. */
export class TestEtcd {
  readonly dir = mkdtempSync(join(process.env.PROXYMGR_ETCD_TMP ?? (process.platform === 'linux' ? '/dev/shm' : tmpdir()), 'pmgr-etcd-'));
  clientPort = 0;
  peerPort = 0;
  /** The peer port the others are told to use (a relay in front of `peerPort`); `peerPort` when 0. */
  advertisedPeerPort = 0;
  /** `name=http://127.0.0.1:peer,...`: set by TestEtcdCluster; a single member is a cluster of itself. */
  initialCluster?: string;
  tls?: EtcdTlsFiles;
  /** More etcd flags (TestEtcdCluster's election timing). */
  extraArgs: string[] = [];
  private proc?: ChildProcess;
  private started = false;

  constructor(readonly name = 'm1') {}

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  /** Starts the member; a second start (after `stop`) keeps its data, as a restarted server does. */
  async start(wait = true): Promise<this> {
    if (!this.clientPort) [this.clientPort, this.peerPort] = await freePorts(2);
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const advertised = `http://127.0.0.1:${this.advertisedPeerPort || this.peerPort}`;
    const tls = this.tls ? ['--cert-file', this.tls.certFile, '--key-file', this.tls.keyFile, '--trusted-ca-file', this.tls.caFile, ...(this.tls.client ? ['--client-cert-auth'] : [])] : [];
    this.proc = spawn(
      'etcd',
      [
        '--name', this.name,
        '--data-dir', join(this.dir, 'data'),
        '--listen-client-urls', this.endpoint,
        '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', advertised,
        '--initial-cluster', this.initialCluster ?? `${this.name}=${advertised}`,
        '--initial-cluster-state', this.started ? 'existing' : 'new',
        '--initial-cluster-token', 'proxymgr-test',
        '--logger', 'zap',
        '--log-level', 'error',
        ...tls,
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    this.started = true;
    if (wait) await this.waitServing();
    return this;
  }

  async waitServing(timeoutMs = 20_000): Promise<void> {
    await waitUntil(`etcd ${this.name} to serve`, async () => (await this.ctl(['endpoint', 'health'], 2000).then(() => true, () => false)), timeoutMs, 100);
  }

  /** Runs etcdctl (API v3) against this member; rejects on a non-zero exit. */
  async ctl(args: string[], timeoutMs = 10_000, endpoints = this.endpoint): Promise<string> {
    const tls = this.tls ? ['--cacert', this.tls.caFile, ...(this.tls.client ? ['--cert', this.tls.client.certFile, '--key', this.tls.client.keyFile] : [])] : [];
    const { stdout } = await run('etcdctl', ['--endpoints', endpoints, '--dial-timeout', '1s', '--command-timeout', `${Math.ceil(timeoutMs / 1000)}s`, ...tls, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs + 2000 });
    return stdout;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGKILL: no goodbye to clients or peers, as a crashed host. */
  stop(): Promise<void> {
    return killChild(this.proc);
  }

  /** SIGSTOP: the member hangs with its connections open, as a wedged host (or a path that drops packets) does. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  async cleanup(): Promise<void> {
    this.resume();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client for the test itself (a writer that is not the agent); `auth` as `user:password`. */
  client(hosts: string | string[] = this.endpoint, auth?: string): Etcd3 {
    const t = this.tls;
    const credentials = t && { rootCertificate: readFileSync(t.caFile), ...(t.client && { certChain: readFileSync(t.client.certFile), privateKey: readFileSync(t.client.keyFile) }) };
    const [username, password] = auth ? [auth.slice(0, auth.indexOf(':')), auth.slice(auth.indexOf(':') + 1)] : [];
    return new Etcd3({ hosts, ...(credentials && { credentials }), ...(auth && { auth: { username: username!, password: password! } }) });
  }
}

/** A 3-member cluster on 127.0.0.1, for leader-failure tests. */
export class TestEtcdCluster {
  readonly members: TestEtcd[] = [];
  /** With `partitionable`: the relay in front of each member's peer port, and its member id (hex). */
  private readonly peers = new Map<TestEtcd, { relay: TcpProxy; id: string }>();

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /**
   * `timing` sets the raft heartbeat and election timeout (etcd's defaults, 100 and 1000 ms,
   * are meant for a network between hosts; with them a new leader takes 1-2 s on loopback).
   */
  async start(size = 3, timing?: { heartbeatMs: number; electionMs: number }, partitionable = false): Promise<this> {
    const ports = await freePorts(2 * size);
    for (let i = 0; i < size; i++) {
      const m = new TestEtcd(`m${i + 1}`);
      m.clientPort = ports[2 * i];
      m.peerPort = ports[2 * i + 1];
      if (partitionable) {
        const relay = await new TcpProxy(m.peerPort).start();
        m.advertisedPeerPort = relay.port;
        this.peers.set(m, { relay, id: '' });
      }
      this.members.push(m);
    }
    const initial = this.members.map((m) => `${m.name}=http://127.0.0.1:${m.advertisedPeerPort || m.peerPort}`).join(',');
    for (const m of this.members) {
      m.initialCluster = initial;
      if (timing) m.extraArgs = ['--heartbeat-interval', String(timing.heartbeatMs), '--election-timeout', String(timing.electionMs)];
    }
    // Members wait for a quorum before they serve: start all, then wait.
    await Promise.all(this.members.map((m) => m.start(false)));
    await Promise.all(this.members.map((m) => m.waitServing()));
    if (partitionable) {
      // id, status, name, peer urls, client urls, is learner
      const rows = (await this.members[0].ctl(['member', 'list', '-w', 'simple'])).trim().split('\n');
      for (const row of rows) {
        const [id, , name] = row.split(',').map((f) => f.trim());
        const m = this.members.find((x) => x.name === name);
        if (m) this.peers.get(m)!.id = id;
      }
    }
    return this;
  }

  /**
   * Cuts `m` off from the other members (a network partition; it keeps running and keeps
   * its clients): its relay refuses everyone, the others' relays refuse raft requests from
   * it, and every peer connection is reset so that only admitted ones come back.
   */
  isolate(m: TestEtcd): void {
    const from = `X-Server-From: ${this.peers.get(m)!.id}\r\n`;
    for (const [member, { relay }] of this.peers) {
      relay.admit = member === m ? () => false : (head) => !head.includes(from);
      relay.resetAll();
    }
  }

  heal(): void {
    for (const { relay } of this.peers.values()) relay.admit = undefined;
  }

  /** How many watch streams each member serves now (etcd's own gauge on its client port). */
  async watchStreams(m: TestEtcd): Promise<number> {
    const text = await fetch(`${m.endpoint}/metrics`).then((r) => r.text());
    return Number(/^etcd_debugging_mvcc_watch_stream_total (\S+)$/m.exec(text)?.[1] ?? 0);
  }

  /**
   * The member that leads now. `endpoint status -w simple` says it in its fifth column
   * ("is leader"); the JSON form gives member ids as 64-bit JSON numbers, which lose
   * precision when parsed.
   */
  async leader(): Promise<TestEtcd> {
    for (const m of this.members) {
      if (!m.running) continue;
      // endpoint, id, version, db size, is leader, is learner, raft term, raft index, applied index, errors
      const out = await m.ctl(['endpoint', 'status', '-w', 'simple']).catch(() => '');
      if (out.split(',')[4]?.trim() === 'true') return m;
    }
    throw new Error('no etcd leader');
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.members.map((m) => m.cleanup()));
    await Promise.all([...this.peers.values()].map((p) => p.relay.close()));
  }
}
