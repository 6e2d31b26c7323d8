import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { dedupServers, normalizeServers, parseServerSpec, type ParseResult, type Server } from '../model/server';
import { dirWatches, jittered, SAFETY_NET_MS, type DirWatchRegistry } from '../util/dir-watch';
import { readCapped, statSignature } from '../util/read-capped';
import type { Watcher, WatcherContext, WatcherType } from './watcher';

const MAX_BYTES = 4 * 1024 * 1024;
const FOLLOW_UP_MS = 100;
const MISSING = 'missing';

const isMissing = (err: NodeJS.ErrnoException) => err.code === 'ENOENT' || err.code === 'ENOTDIR';

/**
 * Parses a servers file: one `host:port [weight]` per line, `#` comments, blank lines ignored.
 * Sorted by name, or in line order with `order: 'declared'` (the watcher: `balance first` follows it).
 */
export function parseServersFile(text: string, label: string, order: 'name' | 'declared' = 'name'): ParseResult<Server[]> {
  const servers: Server[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const parsed = parseServerSpec(line);
    if (parsed.ok) servers.push(parsed.value);
    else errors.push(`${label}:${i + 1}: ${parsed.error}`);
  });
  // One bad line rejects the whole read: a half-written file must not shrink a backend.
  if (errors.length) return { ok: false, error: errors.slice(0, 5).join('; ') + (errors.length > 5 ? ` (+${errors.length - 5} more)` : '') };
  return { ok: true, value: order === 'declared' ? dedupServers(servers) : normalizeServers(servers) };
}

/** `"file": "servers.txt"`: a file of `host:port [weight]` lines, re-read whenever it changes. */
export const fileWatcher: WatcherType = {
  options: { file: z.string().min(1).max(4096).regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters') },
  create(options, ctx) {
    return new ServersFileWatcher(resolve(ctx.baseDir, options.file as string), ctx);
  },
};

export interface ServersFileWatcherOptions {
  /** Period of the stat that finds what the directory watch missed. */
  checkMs: number;
  registry: DirWatchRegistry;
}

/**
 * Watches one servers file through the shared watch on its directory, which need not
 * exist yet: until it does, the periodic check (and the registry's retries) find it.
 */
export class ServersFileWatcher implements Watcher {
  private readonly opts: ServersFileWatcherOptions;
  private reading: Promise<void> = Promise.resolve();
  /** Text last reported; undefined after a failure, so the same text coming back reports again. */
  private last?: string;
  private lastError?: string;
  /** The file when last read: its stat signature, MISSING, or undefined when unknown (an error). */
  private seen?: string;
  private followUp?: NodeJS.Timeout;
  private checkTimer?: NodeJS.Timeout;
  private unwatch: () => void = () => undefined;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly ctx: WatcherContext,
    opts: Partial<ServersFileWatcherOptions> = {},
  ) {
    this.opts = { checkMs: SAFETY_NET_MS, registry: dirWatches, ...opts };
  }

  start(): void {
    this.unwatch = this.opts.registry.watchFile(
      this.path,
      () => this.onEvent(),
      () => this.readNow(),
    );
    this.onEvent();
    this.scheduleCheck();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch();
    clearTimeout(this.followUp);
    clearTimeout(this.checkTimer);
    await this.reading;
  }

  private onEvent(): void {
    this.readNow();
    // File events can coalesce when writes come close together; look again once the
    // file has been quiet for a moment so the last write is never missed (unchanged
    // content is skipped).
    if (this.followUp) this.followUp.refresh();
    else
      this.followUp = setTimeout(() => {
        this.followUp = undefined;
        this.readNow();
      }, FOLLOW_UP_MS);
  }

  private scheduleCheck(): void {
    this.checkTimer = setTimeout(() => {
      void this.check().finally(() => {
        if (!this.stopped) this.scheduleCheck();
      });
    }, jittered(this.opts.checkMs));
    this.checkTimer.unref();
  }

  /** Re-reads when the file's stat differs from the one read last (or it vanished or appeared). */
  private async check(): Promise<void> {
    const now = await stat(this.path).then(statSignature, (err: NodeJS.ErrnoException) => (isMissing(err) ? MISSING : undefined));
    if (now === undefined || now !== this.seen) this.readNow();
  }

  /** Reads are serialised so a slow read never reports after a newer one. */
  private readNow(): void {
    this.reading = this.reading.then(() => this.read());
  }

  private async read(): Promise<void> {
    if (this.stopped) return;
    const { path, ctx } = this;
    let text: string;
    try {
      const r = await readCapped(path, MAX_BYTES);
      if (r === undefined) {
        this.last = undefined;
        this.seen = undefined;
        return this.error(`${path}: not a regular file; keeping the previous servers`);
      }
      this.seen = r.signature;
      if (r.text === undefined) {
        this.last = undefined;
        return this.error(`${path}: larger than ${MAX_BYTES} bytes; keeping the previous servers`);
      }
      text = r.text;
    } catch (err) {
      // Whatever comes next, even the text reported before, is news.
      this.last = undefined;
      const code = (err as NodeJS.ErrnoException).code;
      if (!isMissing(err as NodeJS.ErrnoException)) {
        this.seen = undefined;
        return this.error(`${path}: ${code ?? (err as Error).message}; keeping the previous servers`);
      }
      // Missing is said once: as "removed" when it was there before, else as the error.
      const was = this.seen;
      this.seen = MISSING;
      if (was === MISSING) return;
      return this.error(was ? `${path}: removed; keeping the previous servers` : `${path}: ${code}; keeping the previous servers`);
    }
    if (text === this.last) return;
    this.last = text;
    const parsed = parseServersFile(text, path, 'declared');
    if (parsed.ok) {
      this.lastError = undefined;
      ctx.onUpdate(parsed.value);
    } else this.error(`${parsed.error}; keeping the previous servers`);
  }

  /** Reports a problem once, not again on every event or check until something else happens. */
  private error(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.ctx.onError(message);
  }
}
