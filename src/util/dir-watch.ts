import { statSync, watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

/**
 * How often the file sources look for what their watches may have missed. Node's
 * fs.watch drops inotify's queue-overflow notice, so a lost event is only ever
 * found by looking; this bounds how long a missed write can go unseen.
 */
export const SAFETY_NET_MS = 30_000;

/** `ms` give or take 10%, so agents started together do not rescan in step. */
export function jittered(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()));
}

/** Something happened to this entry of the directory: created, written, renamed from or to, deleted. */
export type OnName = (name: string) => void;
/**
 * The watch was (re)established after it failed or was lost, or an event came
 * without a name: anything may have changed meanwhile, so look again.
 */
export type OnReset = () => void;

interface DirSubscriber {
  onName: OnName;
  onReset?: OnReset;
}

export interface DirWatchOptions {
  /** How often a failed watch is retried and a working one checked against the directory on disk. */
  retryMs: number;
  /** For tests: stands in for node:fs watch. */
  watch?: typeof fsWatch;
}

interface Entry {
  dir: string;
  all: Set<DirSubscriber>;
  byName: Map<string, Set<DirSubscriber>>;
  watcher?: FSWatcher;
  /** Which directory the watcher is on (inotify follows the inode, not the path). */
  identity?: string;
  /** Set once a watch has failed or been lost: the next one to work tells subscribers to look again. */
  lost: boolean;
  timer?: NodeJS.Timeout;
}

/**
 * One fs.watch (one inotify watch) per directory, shared by everyone interested in
 * entries of it, with events handed out by entry name.
 *
 * Raw events rather than chokidar: chokidar rescans the whole directory on every
 * rename into it (cost grows with the number of files there), and it throttles
 * change events, which was measured to lose every other write when writes came less
 * than ~50 ms apart. Raw events cost one callback each, and subscribers re-read only
 * the file named; they must not trust an event to mean anything beyond "look at it".
 */
export class DirWatchRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly watch: typeof fsWatch;

  constructor(private readonly opts: DirWatchOptions) {
    this.watch = opts.watch ?? fsWatch;
  }

  /** Every event in `dir`. Returns the unsubscribe function. */
  watchDir(dir: string, onName: OnName, onReset?: OnReset): () => void {
    const sub: DirSubscriber = { onName, onReset };
    const entry = this.entry(dir);
    entry.all.add(sub);
    return this.unsubscriber(entry, () => entry.all.delete(sub));
  }

  /** Only the events for `path`'s name in its directory (which need not exist yet). */
  watchFile(path: string, onEvent: () => void, onReset?: OnReset): () => void {
    const sub: DirSubscriber = { onName: () => onEvent(), onReset };
    const abs = resolve(path);
    const entry = this.entry(dirname(abs));
    const name = basename(abs);
    let subs = entry.byName.get(name);
    if (!subs) entry.byName.set(name, (subs = new Set()));
    subs.add(sub);
    return this.unsubscriber(entry, () => {
      subs!.delete(sub);
      if (subs!.size === 0) entry.byName.delete(name);
    });
  }

  /** Directories with a subscriber, and whether their watch is working. For tests and status. */
  watched(): Map<string, boolean> {
    return new Map([...this.entries].map(([dir, e]) => [dir, e.watcher !== undefined]));
  }

  private entry(dir: string): Entry {
    const abs = resolve(dir);
    let entry = this.entries.get(abs);
    if (entry) return entry;
    entry = { dir: abs, all: new Set(), byName: new Map(), lost: false };
    this.entries.set(abs, entry);
    this.open(entry);
    this.schedule(entry);
    return entry;
  }

  private unsubscriber(entry: Entry, remove: () => void): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      remove();
      if (entry.all.size > 0 || entry.byName.size > 0) return;
      // The last subscriber is gone: so is the watch.
      this.entries.delete(entry.dir);
      clearTimeout(entry.timer);
      this.close(entry);
    };
  }

  private open(entry: Entry): void {
    let w: FSWatcher;
    try {
      // The identity is taken before the watch: should the directory be replaced in
      // between, the next check sees a mismatch and opens again, which is harmless,
      // where taking it after could pair the new directory with a watch on the old.
      // Synchronous, so a subscriber that lists the directory next misses nothing.
      const st = statSync(entry.dir);
      if (!st.isDirectory()) throw new Error('not a directory');
      w = this.watch(entry.dir, { persistent: true }, (_type, name) => this.dispatch(entry, w, name?.toString()));
      entry.identity = identity(st);
    } catch {
      // Missing, not a directory, or out of inotify watches: the timer tries again.
      entry.lost = true;
      return;
    }
    entry.watcher = w;
    w.on('error', () => this.lose(entry, w));
    if (!entry.lost) return;
    entry.lost = false;
    // Whatever happened while there was no watch went unseen.
    this.each(entry, (s) => s.onReset?.());
  }

  private close(entry: Entry): void {
    const w = entry.watcher;
    entry.watcher = undefined;
    entry.identity = undefined;
    w?.close();
  }

  private lose(entry: Entry, w: FSWatcher): void {
    if (entry.watcher !== w) return;
    this.close(entry);
    entry.lost = true;
  }

  private dispatch(entry: Entry, w: FSWatcher, name: string | undefined): void {
    if (entry.watcher !== w) return;
    if (!name) {
      this.each(entry, (s) => s.onReset?.());
      return;
    }
    for (const s of entry.all) s.onName(name);
    for (const s of entry.byName.get(name) ?? []) s.onName(name);
    // The directory itself deleted or moved away reports under its own name, and the
    // watch stays on the old inode. A new directory at the path can even get the same
    // inode number, so no stat tells them apart: watch the path afresh (and have
    // subscribers look again). An entry that merely shares the name costs a rescan.
    if (name === basename(entry.dir) && entry.watcher === w) {
      this.lose(entry, w);
      this.open(entry);
    }
  }

  /** The periodic look: a watch on a directory that is gone or was replaced is dropped and opened afresh. */
  private async check(entry: Entry): Promise<void> {
    const w = entry.watcher;
    if (!w) return;
    const st = await stat(entry.dir).catch(() => undefined);
    const id = st?.isDirectory() ? identity(st) : undefined;
    if (entry.watcher !== w || id === entry.identity) return;
    this.lose(entry, w);
    if (this.entries.get(entry.dir) === entry) this.open(entry);
  }

  private schedule(entry: Entry): void {
    entry.timer = setTimeout(() => {
      if (this.entries.get(entry.dir) !== entry) return;
      if (entry.watcher) void this.check(entry);
      else this.open(entry);
      // A subscriber told to look again may have left, and with the last one the entry.
      if (this.entries.get(entry.dir) === entry) this.schedule(entry);
    }, jittered(this.opts.retryMs));
    entry.timer.unref();
  }

  private each(entry: Entry, fn: (s: DirSubscriber) => void): void {
    for (const s of entry.all) fn(s);
    for (const subs of entry.byName.values()) for (const s of subs) fn(s);
  }
}

/** Birth time too: a directory made again at once can get the inode number of the one deleted. */
function identity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.birthtimeMs}`;
}

/** The registry the file sources share. */
export const dirWatches = new DirWatchRegistry({ retryMs: SAFETY_NET_MS });
export const watchDir = dirWatches.watchDir.bind(dirWatches);
export const watchFile = dirWatches.watchFile.bind(dirWatches);
