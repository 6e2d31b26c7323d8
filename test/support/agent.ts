import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { showInfo } from '../../src/haproxy/runtime-client';
import { HAPROXY, haproxyEnv } from './haproxy-bin';
import { duplicateKeys } from './json-keys';

/** The project root: the nearest directory above with a package.json (works from compiled copies too). */
export const ROOT = (() => {
  let dir = __dirname;
  while (!(existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
export const CLI = join(ROOT, 'dist', 'cli.js');

export type LogLine = Record<string, unknown> & { event?: string; msg?: string; service?: string };

export interface AgentOptions {
  services?: Record<string, unknown>;
  /** Extra top-level YAML for proxymgr.yml (merged as text after the defaults). */
  reload?: { quiet_ms?: number; max_wait_ms?: number; min_interval_ms?: number };
  defaults?: string[];
  logLevel?: string;
  /** Appended to proxymgr.yml as is. */
  extraYaml?: string;
  /** Replaces the default `{type: file, path: services}`. */
  serviceConfig?: Record<string, string>;
  runtime?: { enabled?: boolean; drain_ms?: number; drift_interval_ms?: number };
  /** Another build's dist/cli.js to run (a baseline in a bench); the current CLI by default. */
  cli?: string;
  /** haproxy.path; HAPROXY (test/support/haproxy-bin.ts) by default. */
  haproxyPath?: string;
}

/** A proxymgr agent run as its own process (`node dist/cli.js run`) in a temporary directory. */
export class AgentFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'pmgr-'));
  readonly servicesDir = join(this.dir, 'services');
  readonly configFile = join(this.dir, 'proxymgr.yml');
  readonly configPath = join(this.dir, 'run', 'haproxy.cfg');
  readonly socketPath = join(this.dir, 'run', 'admin.sock');
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  /** Log lines that repeat a JSON key (`key: line`); `cleanup` fails the test when there is any. */
  readonly duplicateKeyLines: string[] = [];
  proc?: ChildProcess;
  private waiters: Array<() => void> = [];
  private readonly cli: string;

  constructor(opts: AgentOptions = {}) {
    this.cli = opts.cli ?? CLI;
    mkdirSync(this.servicesDir, { recursive: true });
    for (const [name, blob] of Object.entries(opts.services ?? {})) this.writeService(name, blob);
    const r = { quiet_ms: 20, max_wait_ms: 500, min_interval_ms: 0, ...opts.reload };
    const defaults = opts.defaults ?? ['mode http', 'balance roundrobin', 'timeout connect 1s', 'timeout client 10s', 'timeout server 10s'];
    writeFileSync(
      this.configFile,
      [
        'haproxy:',
        `  path: ${JSON.stringify(opts.haproxyPath ?? HAPROXY)}`,
        '  config_path: run/haproxy.cfg',
        '  socket_path: run/admin.sock',
        '  hard_stop_after: 10s',
        '  stop_timeout_ms: 3000',
        '  defaults:',
        ...defaults.map((d) => `    - ${d}`),
        'reload:',
        ...Object.entries(r).map(([k, v]) => `  ${k}: ${v}`),
        ...(opts.runtime ? ['runtime:', ...Object.entries(opts.runtime).map(([k, v]) => `  ${k}: ${v}`)] : []),
        'service_config:',
        ...Object.entries(opts.serviceConfig ?? { type: 'file', path: 'services' }).map(([k, v]) => `  ${k}: ${v}`),
        'log:',
        `  level: ${opts.logLevel ?? 'debug'}`,
        opts.extraYaml ?? '',
        '',
      ].join('\n'),
    );
  }

  writeService(name: string, blob: unknown, ext = 'json'): void {
    const text = typeof blob === 'string' ? blob : JSON.stringify(blob, null, 2);
    // Write then rename, as a careful operator (or config management) would.
    const tmp = join(this.servicesDir, `.${name}.${ext}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.servicesDir, `${name}.${ext}`));
  }

  removeService(name: string, ext = 'json'): void {
    unlinkSync(join(this.servicesDir, `${name}.${ext}`));
  }

  /** Starts the agent (again, after `stop`, to test restarts) and waits for its first apply. */
  async start(): Promise<void> {
    const from = this.mark();
    this.proc = spawn(process.execPath, [this.cli, 'run', '-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...haproxyEnv(), PROXYMGR_LOG_PRETTY: '0' } });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
        for (const key of duplicateKeys(line)) this.duplicateKeyLines.push(`${key}: ${line}`);
      } catch {
        this.logs.push({ msg: line });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => this.stderr.push(line));
    await this.waitLog((l) => l.event === 'start' || l.event === 'apply_failed', 15_000, from);
  }

  /** Index to pass to `waitLog` so that only lines logged after now count. */
  mark(): number {
    return this.logs.length;
  }

  async waitLog(pred: (l: LogLine) => boolean, timeoutMs = 5000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.slice(from).find(pred);
      if (hit) return hit;
      if (this.proc?.exitCode !== null && this.proc?.exitCode !== undefined) throw new Error(`agent exited (${this.proc.exitCode}) while waiting; stderr: ${this.stderr.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a log line; last lines:\n${this.logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  events(name: string, from = 0): LogLine[] {
    return this.logs.slice(from).filter((l) => l.event === name);
  }

  async haproxyPid(): Promise<number> {
    return Number((await showInfo(this.socketPath)).Pid);
  }

  /** Every live HAProxy process reading this fixture's config, found in /proc (not from the agent). */
  haproxyPids(): number[] {
    return haproxyPidsFor(this.configPath);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    p.kill(signal);
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  /** Always called from afterEach/afterAll: nothing survives a failing test. */
  async cleanup(): Promise<void> {
    await this.stop().catch(() => undefined);
    for (const pid of this.haproxyPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    // Every test that runs an agent checks its log: JSON.parse would silently keep the last of two equal keys.
    if (this.duplicateKeyLines.length) throw new Error(`agent log lines with a duplicate JSON key:\n${this.duplicateKeyLines.join('\n')}`);
  }
}

export function haproxyPidsFor(configPath: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // a zombie is already dead
      // argv[0] is the dynamic loader when HAProxy runs through a wrapper (scripts/haproxy-3.0.sh).
      if (argv.slice(0, 4).some((a) => /(^|\/)haproxy$/.test(a)) && argv.includes(configPath)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** Runs the CLI to completion (check, render). */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: haproxyEnv() }, (err, stdout, stderr) => {
      const code = err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** Starts the agent with `vars` in its environment (set in this process for its start only), then waits for its API. */
export async function startWithEnv(agent: AgentFixture, vars: Record<string, string>): Promise<void> {
  Object.assign(process.env, vars);
  try {
    await agent.start();
  } finally {
    for (const name of Object.keys(vars)) delete process.env[name];
  }
  await agent.waitLog((l) => l.event === 'api_listening');
}
