import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { freePorts, waitUntil } from './net';
import { killChild } from './process';

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
    const tls = this.tls ? ['--cert-file', this.tls.certFile, '--key-file', this.tls.keyFile, '--trusted-ca-file', this.tls.caFile, ...(this.tls.client ? ['--client-cert-auth'] : [])] : [];
    this.proc = spawn(
      'etcd',
      [
        '--name', this.name,
        '--data-dir', join(this.dir, 'data'),
        '--listen-client-urls', this.endpoint,
        '--advertise-client-urls', this.endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', this.initialCluster ?? `${this.name}=${peer}`,
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

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /**
   * `timing` sets the raft heartbeat and election timeout (etcd's defaults, 100 and 1000 ms,
   * are meant for a network between hosts; with them a new leader takes 1-2 s on loopback).
   */
  async start(size = 3, timing?: { heartbeatMs: number; electionMs: number }): Promise<this> {
    const ports = await freePorts(2 * size);
    for (let i = 0; i < size; i++) {
      const m = new TestEtcd(`m${i + 1}`);
      m.clientPort = ports[2 * i];
      m.peerPort = ports[2 * i + 1];
      this.members.push(m);
    }
    const initial = this.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    for (const m of this.members) {
      m.initialCluster = initial;
      if (timing) m.extraArgs = ['--heartbeat-interval', String(timing.heartbeatMs), '--election-timeout', String(timing.electionMs)];
    }
    // Members wait for a quorum before they serve: start all, then wait.
    await Promise.all(this.members.map((m) => m.start(false)));
    await Promise.all(this.members.map((m) => m.waitServing()));
    return this;
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
  }
}
