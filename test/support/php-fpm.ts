import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitUntil } from './net';
import { killChild } from './process';

/** Debian's PHP-FPM binary (`/usr/sbin/php-fpm8.2` and the like), or undefined when not installed. */
export function phpFpmBinary(): string | undefined {
  const dir = '/usr/sbin';
  const name = existsSync(dir) ? readdirSync(dir).filter((f) => /^php-fpm[0-9.]*$/.test(f)).sort().pop() : undefined;
  return name && join(dir, name);
}

/**
 * The page every pool serves (index.php): what a FastCGI application sees of a request,
 * one `KEY=value` per line. `FPM_NAME` says which pool answered.
 */
const PAGE = `<?php
header('Content-Type: text/plain');
foreach (['FPM_NAME', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'APP_GREETING', 'DOCUMENT_ROOT'] as $k) {
  $v = $_SERVER[$k] ?? getenv($k);
  echo $k, '=', $v === false ? '' : $v, "\\n";
}
`;

/** The lines of a PAGE answer as a record. */
export function parsePage(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * PHP-FPM run by a test, with its own config, prefix and docroot in a temporary directory:
 * one static pool listening on 127.0.0.1:<free port> or on a unix socket, in the foreground,
 * as the current user (as root, `-R` lets it keep running as root).
 */
export class PhpFpm {
  readonly dir = mkdtempSync(join(tmpdir(), 'pmgr-fpm-'));
  /** Where index.php is; pools of one service share it (the service has one root for all its servers). */
  readonly docroot: string;
  readonly socketPath = join(this.dir, 'fpm.sock');
  port = 0;
  private readonly listen: 'tcp' | 'unix';
  private proc?: ChildProcess;

  constructor(
    readonly name: string,
    opts: { listen?: 'tcp' | 'unix'; docroot?: string } = {},
  ) {
    this.listen = opts.listen ?? 'tcp';
    this.docroot = opts.docroot ?? join(this.dir, 'www');
  }

  /** The server as a service blob lists it. */
  get server(): string {
    return this.listen === 'unix' ? `unix:${this.socketPath}` : `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const bin = phpFpmBinary();
    if (!bin) throw new Error('php-fpm not installed (scripts/install-deps.sh --test)');
    if (this.listen === 'tcp' && !this.port) this.port = await freePort();
    mkdirSync(this.docroot, { recursive: true });
    // mkdtemp makes the directory 0700: an HAProxy running as another user could not reach the socket in it.
    if (this.listen === 'unix') chmodSync(this.dir, 0o755);
    writeFileSync(join(this.docroot, 'index.php'), PAGE);
    const conf = join(this.dir, 'php-fpm.conf');
    writeFileSync(
      conf,
      [
        '[global]',
        `error_log = ${join(this.dir, 'fpm.log')}`,
        `pid = ${join(this.dir, 'fpm.pid')}`,
        'daemonize = no',
        `[${this.name}]`,
        `listen = ${this.listen === 'unix' ? this.socketPath : `127.0.0.1:${this.port}`}`,
        'listen.mode = 0666',
        'pm = static',
        'pm.max_children = 4',
        'clear_env = yes',
        `env[FPM_NAME] = ${this.name}`,
        '',
      ].join('\n'),
    );
    const root = process.getuid?.() === 0;
    this.proc = spawn(bin, ['-F', '-y', conf, '-p', this.dir, ...(root ? ['-R'] : [])], { stdio: 'ignore' });
    const exited = new Promise<never>((_, reject) => this.proc!.once('exit', (code) => reject(new Error(`php-fpm exited (${code}): ${this.log()}`))));
    exited.catch(() => undefined);
    await Promise.race([waitUntil(`php-fpm ${this.name} to accept connections`, () => this.accepts(), 10_000, 25), exited]);
    return this;
  }

  /** SIGTERM: the master stops its workers and exits (a SIGKILLed master would leave them running). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => void killChild(p), 5000);
    await exited;
    clearTimeout(timer);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private log(): string {
    try {
      return readFileSync(join(this.dir, 'fpm.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch {
      return '(no log)';
    }
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = this.listen === 'unix' ? connect(this.socketPath) : connect({ port: this.port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  }
}
