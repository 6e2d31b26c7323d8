import type { EventEmitter } from 'node:events';
import type { RuntimeClient } from '../haproxy/runtime-client';
import type { Logger } from '../log';
import type { DesiredService } from '../model/desired';
import { certDirChange, certFileAction, loadedFingerprint, loadedUnder } from '../plan/cert-plan';
import { watchDir as sharedWatchDir, watchFile as sharedWatchFile } from '../util/dir-watch';
import { bindCertProblems, certDirFiles, readPemFile } from './bind-cert-files';
import type { AgentEvents } from './view';

/**
 * A burst of events for one file (a write in several parts, a rename after a write) is
 * looked at once, this long after the first: a swap lands well within a second, and a
 * file written in place is rarely read half-written.
 */
const SETTLE_MS = 100;

export interface CertSwapDeps {
  client: RuntimeClient;
  log: Logger;
  events: EventEmitter<AgentEvents>;
  /** Runs `fn` on the agent's one chain, so a swap never meets a reload half-way. */
  enqueue<T>(fn: () => Promise<T>): Promise<T>;
  /** The certificates a service's config loads changed (a `crt` directory's files): reload it. */
  needReload(service: string, reason: string): void;
  /** For tests: stand-ins for the shared directory watches. */
  watchFile?: (path: string, onEvent: () => void, onReset?: () => void) => () => void;
  watchDir?: (dir: string, onName: (name: string) => void, onReset?: () => void) => () => void;
}

interface Watched {
  kind: 'file' | 'dir';
  services: Set<string>;
  stop: () => void;
  /** Directory entries named by events since the last look (undefined: look at all). */
  names?: Set<string>;
  all?: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * Keeps the certificates HAProxy serves on its TLS binds equal to the files on disk,
 * without a reload: a file whose content changed is sent with `set ssl cert` and
 * `commit ssl cert`; a file that is no certificate with its key is refused (named in a
 * log event and in its services' problems) and the loaded one keeps serving.
 * Follows what HAProxy runs: `sync` after every reload.
 */
export class CertSwap {
  private readonly watched = new Map<string, Watched>();
  /** Refused files, by path: why, and which services use them. */
  private readonly refused = new Map<string, string>();
  private stopped = false;
  readonly stats = { updated: 0, refused: 0 };

  constructor(private readonly deps: CertSwapDeps) {}

  /** The certificates of the services HAProxy runs now: watch new ones (and look at them once), drop the rest. */
  sync(services: Iterable<DesiredService>): void {
    if (this.stopped) return;
    const wanted = new Map<string, { kind: 'file' | 'dir'; services: Set<string> }>();
    for (const s of services) {
      const b = s.listen.bindTls;
      if (!b) continue;
      const targets: Array<['file' | 'dir', string]> = b.certDir !== undefined ? [['dir', b.certDir]] : (b.certFiles ?? []).map((f) => ['file', f]);
      for (const [kind, path] of targets) {
        const key = `${kind}:${path}`;
        const w = wanted.get(key) ?? { kind, services: new Set<string>() };
        w.services.add(s.name);
        wanted.set(key, w);
      }
    }
    for (const [key, w] of this.watched) {
      if (wanted.has(key)) continue;
      w.stop();
      clearTimeout(w.timer);
      this.watched.delete(key);
      const path = key.slice(key.indexOf(':') + 1);
      for (const p of [...this.refused.keys()]) if (p === path || p.startsWith(`${path}/`)) this.refused.delete(p);
    }
    for (const [key, want] of wanted) {
      const have = this.watched.get(key);
      if (have) {
        have.services = want.services;
        continue;
      }
      const path = key.slice(key.indexOf(':') + 1);
      const w: Watched = { kind: want.kind, services: want.services, stop: () => undefined };
      this.watched.set(key, w);
      const look = (name?: string) => this.schedule(key, name);
      w.stop =
        want.kind === 'file'
          ? (this.deps.watchFile ?? sharedWatchFile)(path, () => look(), () => look())
          : (this.deps.watchDir ?? sharedWatchDir)(path, (name) => look(name), () => look());
      // It may have changed between HAProxy loading it and this watch starting.
      look();
    }
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watched.values()) {
      w.stop();
      clearTimeout(w.timer);
    }
    this.watched.clear();
  }

  /** Why a service's certificates are not what its files say, for its status. */
  problemsOf(service: string): string[] {
    const out: string[] = [];
    for (const [path, message] of this.refused) if (this.usersOf(path).includes(service)) out.push(`bind_tls: ${path}: ${message}`);
    return out;
  }

  private schedule(key: string, name?: string): void {
    const w = this.watched.get(key);
    if (!w || this.stopped) return;
    if (w.kind === 'dir') {
      if (name === undefined) w.all = true;
      else (w.names ??= new Set()).add(name);
    }
    if (w.timer) return;
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (this.watched.get(key) !== w) return;
      const path = key.slice(key.indexOf(':') + 1);
      const names = w.all ? undefined : w.names;
      w.names = undefined;
      w.all = false;
      void this.deps
        .enqueue(() => (w.kind === 'file' ? this.checkFile(path) : this.checkDir(path, names)))
        .catch((err: unknown) => this.deps.log.warn({ event: 'cert_check_failed', path, error: (err as Error).message }, `could not check certificate ${path}`));
    }, SETTLE_MS);
    w.timer.unref();
  }

  /** Services using `path` (a listed file, or a file in a listed directory). */
  private usersOf(path: string): string[] {
    const out = new Set<string>();
    for (const [key, w] of this.watched) {
      const p = key.slice(key.indexOf(':') + 1);
      if (p === path || (w.kind === 'dir' && path.startsWith(`${p}/`) && !path.slice(p.length + 1).includes('/'))) for (const s of w.services) out.add(s);
    }
    return [...out].sort();
  }

  /**
   * A directory: a file added or gone changes what the config loads, so its services
   * reload, once every file in it is one HAProxy can load (else `haproxy -c` would fail
   * and the service be set aside). Files whose name HAProxy knows are checked one by one.
   */
  private async checkDir(dir: string, names: ReadonlySet<string> | undefined): Promise<void> {
    if (this.stopped) return;
    let onDisk: string[];
    try {
      onDisk = certDirFiles(dir);
    } catch (err) {
      return this.refuse(`${dir}`, `cannot list the directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const loaded = loadedUnder(await this.deps.client.query('show ssl cert'), dir);
    const { added, removed } = certDirChange(onDisk, loaded);
    if (added.length || removed.length) {
      const problems = bindCertProblems(undefined, dir);
      if (problems.length) return this.refuse(dir, problems.map((p) => p.replace(/^bind_tls\.cert_dir: /, '')).join('; '));
      this.cleared(dir);
      const reason = `bind_tls.cert_dir ${dir}: ${[...added.map((p) => `added ${p}`), ...removed.map((p) => `removed ${p}`)].join(', ')}`;
      this.deps.log.info({ event: 'cert_dir_changed', dir, added, removed, services: this.usersOf(dir) }, `${reason}: reloading`);
      for (const s of this.usersOf(dir)) this.deps.needReload(s, reason);
      return;
    }
    this.cleared(dir);
    const toCheck = names === undefined ? onDisk : onDisk.filter((p) => names.has(p.slice(dir.length + 1)));
    for (const p of toCheck) await this.checkFile(p);
  }

  private async checkFile(path: string): Promise<void> {
    if (this.stopped) return;
    const disk = readPemFile(path);
    const loaded = disk.ok ? loadedFingerprint(await this.deps.client.query(`show ssl cert ${path}`)) : undefined;
    const action = certFileAction(path, disk.ok ? { ok: true, fingerprint: disk.fingerprint } : disk, loaded);
    if (action.kind === 'none') return this.cleared(path);
    if (action.kind === 'refuse') return this.refuse(path, action.error);
    if (action.kind === 'reload') {
      for (const s of this.usersOf(path)) this.deps.needReload(s, action.reason);
      return;
    }
    if (!disk.ok) return;
    const t0 = performance.now();
    const set = await this.deps.client.withPayload(`set ssl cert ${path}`, disk.blocks);
    let error: string | undefined;
    if (!/^Transaction (created|updated)/m.test(set)) error = `set ssl cert: ${oneLine(set)}`;
    else {
      const [commit] = await this.deps.client.batch([`commit ssl cert ${path}`]);
      if (!/Success!/.test(commit.output)) error = `commit ssl cert: ${oneLine(commit.message)}`;
    }
    if (error !== undefined) {
      // A transaction left open would block the next `set ssl cert` of any file.
      await this.deps.client.batch([`abort ssl cert ${path}`]);
      return this.refuse(path, `HAProxy refused it (${error}); the loaded certificate keeps serving`);
    }
    this.stats.updated++;
    this.cleared(path);
    const services = this.usersOf(path);
    this.deps.log.info(
      { event: 'cert_updated', path, services, serial: disk.serial, not_after: disk.notAfter, ms: Math.round(performance.now() - t0) },
      `certificate ${path} updated without a reload (serial ${disk.serial}, valid until ${disk.notAfter})`,
    );
    this.deps.events.emit('cert', { result: 'updated' });
  }

  private refuse(path: string, message: string): void {
    const again = this.refused.get(path) === message;
    this.refused.set(path, message);
    if (again) return;
    this.stats.refused++;
    const services = this.usersOf(path);
    this.deps.log.error({ event: 'cert_refused', path, services, error: message }, `certificate ${path} refused: ${message}; the loaded one keeps serving`);
    this.deps.events.emit('cert', { result: 'refused' });
    this.deps.events.emit('changed', services);
  }

  private cleared(path: string): void {
    if (!this.refused.delete(path)) return;
    this.deps.log.info({ event: 'cert_recovered', path }, `certificate ${path} is sound again`);
    this.deps.events.emit('changed', this.usersOf(path));
  }
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 300);
