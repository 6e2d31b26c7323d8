import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitUntil } from './net';
import { killChild } from './process';

/**
 * dnsmasq (Debian `dnsmasq-base`) on 127.0.0.1, serving only `.test` names from a
 * hosts file (re-read on SIGHUP) and SRV records given at start. No upstream, no cache.
 */
export class TestDns {
  readonly dir = mkdtempSync(join(tmpdir(), 'pmgr-dns-'));
  port = 0;
  private proc?: ChildProcess;

  constructor(
    private hosts: Record<string, string[]>,
    private readonly srv: Array<{ name: string; target: string; port: number; priority?: number; weight: number }> = [],
    private readonly ttl = 1,
  ) {}

  get nameserver(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    this.writeHosts();
    this.proc = spawn(
      'dnsmasq',
      [
        '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root',
        '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${this.port}`,
        '--no-resolv', '--no-hosts', '--no-poll', '--local=/test/', '--domain-needed',
        `--addn-hosts=${join(this.dir, 'hosts')}`,
        ...this.srv.map((s) => `--srv-host=${s.name},${s.target},${s.port},${s.priority ?? 0},${s.weight}`),
        `--local-ttl=${this.ttl}`, '--neg-ttl=0', '--cache-size=0',
      ],
      { stdio: 'ignore' },
    );
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([this.nameserver]);
    await waitUntil('dnsmasq to answer', () => r.resolve4('nope.test').then(() => true, (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND'), 5000, 20);
    return this;
  }

  /** Replaces the A/AAAA records and tells dnsmasq to re-read them. */
  setHosts(hosts: Record<string, string[]>): void {
    this.hosts = hosts;
    this.writeHosts();
    this.proc?.kill('SIGHUP');
  }

  stop(): Promise<void> {
    return killChild(this.proc);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeHosts(): void {
    const lines = Object.entries(this.hosts).flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}`));
    writeFileSync(join(this.dir, 'hosts'), `${lines.join('\n')}\n`);
  }
}
