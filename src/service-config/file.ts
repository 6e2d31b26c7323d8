import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import yaml from 'js-yaml';
import type { ServiceConfigHandler, ServiceConfigSource } from './source';
import { dirWatches, jittered, SAFETY_NET_MS, type DirWatchRegistry } from '../util/dir-watch';
import { readCapped, statSignature, type CappedRead } from '../util/read-capped';

const EXTENSIONS = new Set(['.json', '.yaml', '.yml']);
const MAX_BYTES = 1024 * 1024;
const FOLLOW_UP_MS = 100;
/** Files stat'ed at once by a rescan: enough to keep the disk busy, few enough not to flood the thread pool. */
const STAT_BATCH = 32;

/** Decodes one service file by its extension. */
export function decodeServiceFile(path: string, text: string): { ok: true; raw: unknown } | { ok: false; error: string } {
  try {
    if (extname(path) === '.json') return { ok: true, raw: JSON.parse(text) };
    return { ok: true, raw: yaml.load(text, { filename: path, schema: yaml.JSON_SCHEMA }) };
  } catch (err) {
    return { ok: false, error: `cannot decode ${extname(path).slice(1).toUpperCase()}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** The service a directory entry defines, if it is a service file by its name. */
function serviceOf(file: string): string | undefined {
  const ext = extname(file);
  if (!EXTENSIONS.has(ext) || file.startsWith('.') || file.includes('/')) return undefined;
  return file.slice(0, -ext.length);
}

export interface FileServiceConfigOptions {
  /** Period of the full rescan that finds what the directory watch missed. */
  rescanMs: number;
  registry: DirWatchRegistry;
}

/**
 * `service_config: {type: file, path: DIR}`: each DIR/NAME.{json,yaml,yml} is the service NAME, watched live.
 * An event reads only the file it names, so the cost of a write does not grow with the directory.
 */
export class FileServiceConfig implements ServiceConfigSource {
  private readonly dir: string;
  private readonly opts: FileServiceConfigOptions;
  private handler?: ServiceConfigHandler;
  /** service name -> files that claim it; more than one is an error until one goes. */
  private readonly files = new Map<string, Set<string>>();
  /** File -> stat signature when last looked at, so a rescan re-reads only what changed. */
  private readonly signatures = new Map<string, string>();
  /** What was last delivered per service, so reading the same bytes again is silent. */
  private readonly delivered = new Map<string, string>();
  /** Service -> files to look at on its queued turn; a service is queued at most once. */
  private readonly pending = new Map<string, Set<string>>();
  /** Reads a scan made ahead of time, a batch at once (one at a time, 1,000 files took 0.6 s to load); an event voids them. */
  private readonly prefetched = new Map<string, Read>();
  private queue: Promise<void> = Promise.resolve();
  private readonly followUps = new Map<string, NodeJS.Timeout>();
  private rescanTimer?: NodeJS.Timeout;
  private unwatch: () => void = () => undefined;
  private failure?: { message: string; since: number };
  private stopped = false;

  constructor(
    private readonly path: string,
    opts: Partial<FileServiceConfigOptions> = {},
  ) {
    this.dir = resolve(path);
    this.opts = { rescanMs: SAFETY_NET_MS, registry: dirWatches, ...opts };
  }

  describe(): string {
    return `file:${this.path}`;
  }

  problem(): { message: string; since: number } | undefined {
    return this.failure;
  }

  async start(handler: ServiceConfigHandler): Promise<void> {
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`service_config.path ${this.path} is not a directory`);
    this.handler = handler;
    // Watch before listing, so nothing written in between goes unseen.
    this.unwatch = this.opts.registry.watchDir(
      this.dir,
      (name) => this.onEvent(name),
      () => void this.rescan().catch(() => undefined),
    );
    await this.rescan();
    this.scheduleRescan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    clearTimeout(this.rescanTimer);
    for (const t of this.followUps.values()) clearTimeout(t);
    this.followUps.clear();
    await this.queue;
  }

  /**
   * Lists the directory and looks at every service file that is new, gone, or whose
   * stat changed since it was last read. Resolves once those have been delivered.
   */
  async rescan(): Promise<void> {
    await new Promise<void>((resolve) => this.enqueue(() => this.scan(resolve)));
  }

  private onEvent(name: string): void {
    if (serviceOf(name) === undefined) return;
    this.prefetched.delete(name);
    this.touch(name);
    // Events for writes in quick succession can coalesce, and a read can overlap an
    // in-place write: look again once the file has been quiet for a moment.
    const t = this.followUps.get(name);
    if (t) {
      t.refresh();
      return;
    }
    this.followUps.set(
      name,
      setTimeout(() => {
        this.followUps.delete(name);
        this.touch(name);
      }, FOLLOW_UP_MS),
    );
  }

  private scheduleRescan(): void {
    this.rescanTimer = setTimeout(() => {
      void this.rescan()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.scheduleRescan();
        });
    }, jittered(this.opts.rescanMs));
    this.rescanTimer.unref();
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.queue = this.queue.then(fn, fn);
  }

  /** Queues a look at `file` for its service; a service already queued takes it along. */
  private touch(file: string): void {
    const service = serviceOf(file);
    if (service === undefined || this.stopped) return;
    const waiting = this.pending.get(service);
    if (waiting) {
      waiting.add(file);
      return;
    }
    this.pending.set(service, new Set([file]));
    this.enqueue(() => this.settle(service));
  }

  /** Calls `done` once every file it found to look at has been delivered. */
  private async scan(done: () => void): Promise<void> {
    if (this.stopped) return done();
    let listed: string[];
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      listed = entries.filter((e) => !e.isDirectory() && serviceOf(e.name) !== undefined).map((e) => e.name);
    } catch (err) {
      // A directory that cannot be listed keeps every service as it is; files deleted
      // one by one before it went have been removed by their own events.
      const message = `service config ${this.describe()}: cannot list the directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); keeping every service as it is`;
      if (this.failure?.message !== message) this.failure = { message, since: Date.now() };
      return done();
    }
    this.failure = undefined;
    const known = new Set([...this.files.values()].flatMap((s) => [...s]));
    const toStat: string[] = [];
    const toRead: string[] = [];
    for (const file of listed.sort()) {
      if (known.delete(file)) toStat.push(file);
      else toRead.push(file);
    }
    // Known files no longer listed: gone while the watch was not looking.
    toRead.push(...known);
    for (let i = 0; i < toStat.length && !this.stopped; i += STAT_BATCH) {
      const batch = toStat.slice(i, i + STAT_BATCH);
      const sigs = await Promise.all(batch.map((f) => stat(join(this.dir, f)).then(statSignature, () => undefined)));
      batch.forEach((f, j) => {
        if (sigs[j] === undefined || sigs[j] !== this.signatures.get(f)) toRead.push(f);
      });
    }
    this.readAhead(toRead, done);
  }

  /**
   * Reads a batch of files at once and queues their services; the next batch is read
   * once those are delivered, so at most one batch of contents is held.
   */
  private readAhead(files: string[], done: () => void): void {
    const batch = files.splice(0, STAT_BATCH);
    if (batch.length === 0 || this.stopped) return done();
    this.enqueue(async () => {
      const reads = await Promise.all(batch.map((f) => this.read(f)));
      batch.forEach((f, j) => this.prefetched.set(f, reads[j]));
      for (const f of batch) this.touch(f);
      this.enqueue(() => this.readAhead(files, done));
    });
  }

  /** A read made by the scan, if no event came since; else the file is read now. */
  private async readOnce(file: string): Promise<Read> {
    const r = this.prefetched.get(file);
    this.prefetched.delete(file);
    return r ?? this.read(file);
  }

  /** Brings one service up to date with the files that claim it. */
  private async settle(service: string): Promise<void> {
    const look = this.pending.get(service) ?? new Set<string>();
    this.pending.delete(service);
    if (this.stopped) return;
    let claimants = this.files.get(service);
    // Each file looked at is read at once: its presence and content come from one open.
    const reads = new Map<string, Read>();
    for (const file of look) {
      const r = await this.readOnce(file);
      if (r === 'absent') {
        if (claimants?.delete(file)) this.signatures.delete(file);
        continue;
      }
      if (!claimants) this.files.set(service, (claimants = new Set()));
      claimants.add(file);
      reads.set(file, r);
    }
    if (!claimants) return;
    const handler = this.handler!;
    const names = [...claimants].sort();
    if (names.length === 0) {
      this.files.delete(service);
      this.delivered.delete(service);
      return handler.remove(service);
    }
    if (names.length > 1) {
      const paths = names.map((f) => join(this.dir, f));
      const key = `\0twice\0${paths.join('\0')}`;
      if (this.delivered.get(service) === key) return;
      this.delivered.set(service, key);
      return handler.invalid(service, this.dir, [`defined twice: ${paths.join(' and ')}`]);
    }
    const file = names[0];
    const path = join(this.dir, file);
    // The one claimant left may not have been looked at (the other one went).
    const r = reads.get(file) ?? (await this.readOnce(file));
    // Gone since its event: the event for its removal looks again.
    if (r === 'absent') return;
    if (r instanceof Error) {
      // Readable again later with the same bytes must be delivered again.
      this.delivered.delete(service);
      return handler.invalid(service, path, [`cannot read: ${r.message}`]);
    }
    if (r.text === undefined) {
      this.delivered.delete(service);
      return handler.invalid(service, path, [`larger than ${MAX_BYTES} bytes`]);
    }
    if (this.delivered.get(service) === `${path}\0${r.text}`) return;
    this.delivered.set(service, `${path}\0${r.text}`);
    const decoded = decodeServiceFile(path, r.text);
    if (decoded.ok) handler.upsert(service, decoded.raw, path, this.dir);
    else handler.invalid(service, path, [decoded.error]);
  }

  /**
   * Reads one file and notes its stat signature, so a rescan passes it over until it
   * changes. Not a regular file, or not there, is 'absent'; unreadable is the error.
   */
  private async read(file: string): Promise<Read> {
    const path = join(this.dir, file);
    try {
      const r = await readCapped(path, MAX_BYTES);
      if (r === undefined) return 'absent';
      this.signatures.set(file, r.signature);
      return r;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent';
      // There but unreadable (EACCES): known by its stat, so a rescan retries it only once it changes.
      const st = await stat(path).catch(() => undefined);
      if (st) this.signatures.set(file, statSignature(st));
      else this.signatures.delete(file);
      return err as Error;
    }
  }
}

type Read = CappedRead | Error | 'absent';
