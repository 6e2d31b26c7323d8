import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import yaml from 'js-yaml';
import type { ServiceConfigHandler, ServiceConfigSource } from './source';
import { onDirEvents } from '../util/dir-events';

const EXTENSIONS = new Set(['.json', '.yaml', '.yml']);
const MAX_BYTES = 1024 * 1024;

/** Decodes one service file by its extension. */
export function decodeServiceFile(path: string, text: string): { ok: true; raw: unknown } | { ok: false; error: string } {
  try {
    if (extname(path) === '.json') return { ok: true, raw: JSON.parse(text) };
    return { ok: true, raw: yaml.load(text, { filename: path, schema: yaml.JSON_SCHEMA }) };
  } catch (err) {
    return { ok: false, error: `cannot decode ${extname(path).slice(1).toUpperCase()}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** `service_config: {type: file, path: DIR}`: each DIR/NAME.{json,yaml,yml} is the service NAME, watched live. */
export class FileServiceConfig implements ServiceConfigSource {
  private fsw?: FSWatcher;
  /** service name -> files that claim it; more than one is an error until one goes. */
  private readonly files = new Map<string, Set<string>>();
  private queue: Promise<void> = Promise.resolve();
  /** Last content delivered per service, so a follow-up read of the same bytes is silent. */
  private readonly delivered = new Map<string, string>();
  private readonly followUps = new Set<NodeJS.Timeout>();
  private stopped = false;
  private unwatchDir: () => void = () => undefined;

  constructor(private readonly dir: string) {}

  describe(): string {
    return `file:${this.dir}`;
  }

  async start(handler: ServiceConfigHandler): Promise<void> {
    const st = await stat(this.dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new Error(`service_config.path ${this.dir} is not a directory`);
    const serviceOf = (path: string): string | undefined => {
      if (dirname(path) !== this.dir) return undefined;
      const ext = extname(path);
      const base = basename(path);
      if (!EXTENSIONS.has(ext) || base.startsWith('.')) return undefined;
      return basename(path, ext);
    };
    const enqueue = (fn: () => Promise<void>) => (this.queue = this.queue.then(fn, fn));
    // A write shows up as several events (chokidar's and the raw ones): a read already
    // queued for the service reads the newest bytes anyway, so further ones are dropped.
    const queued = new Set<string>();
    const refresh = (name: string) => {
      if (queued.has(name)) return;
      queued.add(name);
      enqueue(async () => {
        queued.delete(name);
        if (this.stopped) return;
        const claimants = [...(this.files.get(name) ?? [])].sort();
        if (claimants.length === 0) {
          this.delivered.delete(name);
          return handler.remove(name);
        }
        if (claimants.length > 1) {
          this.delivered.delete(name);
          return handler.invalid(name, this.dir, [`defined twice: ${claimants.join(' and ')}`]);
        }
        const path = claimants[0];
        try {
          const buf = await readFile(path);
          if (buf.length > MAX_BYTES) return handler.invalid(name, path, [`larger than ${MAX_BYTES} bytes`]);
          const text = buf.toString('utf8');
          if (this.delivered.get(name) === `${path}\0${text}`) return;
          this.delivered.set(name, `${path}\0${text}`);
          const decoded = decodeServiceFile(path, text);
          if (decoded.ok) handler.upsert(name, decoded.raw, path, this.dir);
          else handler.invalid(name, path, [decoded.error]);
        } catch (err) {
          // Gone between the event and the read: the unlink event that follows removes it.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') handler.invalid(name, path, [`cannot read: ${(err as Error).message}`]);
        }
      });
    };

    this.fsw = watch(this.dir, { depth: 0, persistent: true, ignoreInitial: false });
    this.fsw.on('add', (path) => {
      const name = serviceOf(path);
      if (name === undefined) return;
      if (!this.files.has(name)) this.files.set(name, new Set());
      this.files.get(name)!.add(path);
      refresh(name);
    });
    this.fsw.on('change', (path) => {
      const name = serviceOf(path);
      if (name === undefined) return;
      refresh(name);
      // Events for writes in quick succession can coalesce: read again shortly after.
      const t = setTimeout(() => {
        this.followUps.delete(t);
        refresh(name);
      }, 100);
      this.followUps.add(t);
    });
    this.fsw.on('unlink', (path) => {
      const name = serviceOf(path);
      if (name === undefined) return;
      this.files.get(name)?.delete(path);
      refresh(name);
    });
    await new Promise<void>((resolve, reject) => {
      this.fsw!.once('ready', resolve);
      this.fsw!.once('error', reject);
    });
    this.unwatchDir = onDirEvents(this.dir, (file) => {
      const name = serviceOf(join(this.dir, file));
      // Only files chokidar knows: it decides what exists, this only speeds up re-reads.
      if (name !== undefined && this.files.get(name)?.has(join(this.dir, file))) refresh(name);
    });
    await this.queue;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatchDir();
    for (const t of this.followUps) clearTimeout(t);
    await this.fsw?.close();
    await this.queue;
  }
}

