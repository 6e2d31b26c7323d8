import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { onDirEvents } from '../util/dir-events';
import { watch, type FSWatcher } from 'chokidar';
import { z } from 'zod';
import { normalizeServers, parseServerSpec, type ParseResult, type Server } from '../model/server';
import type { WatcherType } from './watcher';

const MAX_BYTES = 4 * 1024 * 1024;
const FOLLOW_UP_MS = 100;

/** Parses a servers file: one `host:port [weight]` per line, `#` comments, blank lines ignored. */
export function parseServersFile(text: string, label: string): ParseResult<Server[]> {
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
  return { ok: true, value: normalizeServers(servers) };
}

/** `"file": "servers.txt"`: a file of `host:port [weight]` lines, re-read whenever it changes. */
export const fileWatcher: WatcherType = {
  options: { file: z.string().min(1).max(4096).regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters') },
  create(options, ctx) {
    const path = resolve(ctx.baseDir, options.file as string);
    let fsw: FSWatcher | undefined;
    let unwatchDir = () => undefined as void;
    let reading: Promise<void> = Promise.resolve();
    let last: string | undefined;
    let stopped = false;
    const followUps = new Set<NodeJS.Timeout>();
    const readNow = () => {
      // Serialise reads so a slow read never reports after a newer one.
      reading = reading.then(async () => {
        if (stopped) return;
        try {
          const buf = await readFile(path);
          if (buf.length > MAX_BYTES) return ctx.onError(`${path}: larger than ${MAX_BYTES} bytes; keeping the previous servers`);
          const text = buf.toString('utf8');
          if (text === last) return;
          last = text;
          const parsed = parseServersFile(text, path);
          if (parsed.ok) ctx.onUpdate(parsed.value);
          else ctx.onError(`${parsed.error}; keeping the previous servers`);
        } catch (err) {
          last = undefined;
          ctx.onError(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; keeping the previous servers`);
        }
      });
    };
    const read = () => {
      readNow();
      // File events can coalesce when writes come close together; look again shortly
      // after each one so the last write is never missed (unchanged content is skipped).
      const t = setTimeout(() => {
        followUps.delete(t);
        readNow();
      }, FOLLOW_UP_MS);
      followUps.add(t);
    };
    return {
      start() {
        fsw = watch(path, { persistent: true, ignoreInitial: true });
        fsw.on('add', read).on('change', read);
        fsw.on('unlink', () => {
          // The same content coming back must report again (and clear the error).
          last = undefined;
          ctx.onError(`${path}: removed; keeping the previous servers`);
        });
        fsw.on('error', (err) => ctx.onError(`${path}: watch failed: ${(err as Error).message}`));
        unwatchDir = onDirEvents(dirname(path), (name) => {
          if (name === basename(path)) readNow();
        });
        read();
      },
      async stop() {
        stopped = true;
        unwatchDir();
        for (const t of followUps) clearTimeout(t);
        await fsw?.close();
        await reading;
      },
    };
  },
};
