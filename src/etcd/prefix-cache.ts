import { EtcdWatchStreamEnded, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import type { EtcdClient } from './client';
import { keyRange } from './fields';
import { oncePerTick } from '../util/once-per-tick';

// A read that fails is tried again after these waits (with jitter, so a fleet does not read in step).
// The longest is the watch's reconnect ceiling (client.ts): etcd back is noticed within about 2 s either way.
const RETRY_MS = [500, 1_000, 2_000];
/**
 * A watch that etcd has not answered this long after it was opened or broke (and that saw no
 * new failure meanwhile, which would mean the library is still retrying) is stuck on a member
 * that does not answer: its stream is ended so that the library opens another. A live member
 * answers in milliseconds; the library's reconnect backoff is at most 2 s.
 */
const WATCH_ANSWER_MS = 5_000;

export interface PrefixCacheHandler {
  /** Every key under the prefix (without `prefix/`) and its value, after any change (coalesced per tick). */
  onChange(entries: ReadonlyMap<string, Buffer>): void;
  /** The prefix cannot be read or watched right now; the last entries stay in force. */
  onError(message: string): void;
  /** The whole prefix is read again (the first read, or the watch could not resume): `reason` says why. */
  onRead?(reason: string): void;
}

/** Why a canceled watch was canceled: etcd 3.4 sends a compaction without a reason, anything else with one. */
export function cancelReason(err: Error): string {
  const reason = err.message.replace(/^Watcher canceled:\s*/, '').trim();
  return reason === '' ? 'compacted: the revision to resume from is gone' : reason;
}

/**
 * Keeps every key under one prefix and its value: one range read, then one watch from the
 * revision after it. Each event is applied once: the cache counts the revisions it has seen,
 * and after a broken stream the watch resumes from the revision after the last one seen, not
 * the library's guess (the header of the last response, which may be ahead of the events
 * delivered). A resume that etcd refuses (compacted) leads to one new read, then a watch
 * from that read's revision. Nothing is ever removed for want of etcd.
 */
export class PrefixCache {
  private readonly data = new Map<string, Buffer>();
  private readonly range: string;
  /** The last revision whose events are all in `data`. */
  private seen = 0;
  private watcher?: Watcher;
  private stopped = false;
  private failures = 0;
  private retry?: NodeJS.Timeout;
  /** The break last reported since the watch was last connected: each retry of the library fails again, and says so. */
  private reported?: string;
  private answerTimer?: NodeJS.Timeout;
  /** How many times the whole prefix was read (1 after start). */
  reads = 0;

  constructor(
    private readonly client: EtcdClient,
    readonly prefix: string,
    private readonly handler: PrefixCacheHandler,
  ) {
    this.range = keyRange(prefix);
  }

  start(): void {
    void this.read('start');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.answerTimer);
    this.dropWatcher();
  }

  /** The revision the cache is at (for tests and logs). */
  get revision(): number {
    return this.seen;
  }

  private describe(): string {
    return `${this.client.describe()} ${this.prefix}/`;
  }

  private read(reason: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.reads++;
    this.handler.onRead?.(reason);
    return this.attempt();
  }

  /** One try at the read; a failed one is tried again (the same read: said once by `read`, counted once). */
  private async attempt(): Promise<void> {
    if (this.stopped) return;
    let kvs: IKeyValue[];
    let revision: number;
    try {
      const res = await this.client.etcd.getAll().prefix(this.range).exec();
      kvs = res.kvs;
      revision = Number(res.header.revision);
      this.client.noteUp();
    } catch (err) {
      if (this.stopped) return;
      this.handler.onError(`${this.describe()}: cannot read (${this.client.noteDown(err)})`);
      const wait = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)] * (0.8 + 0.4 * Math.random());
      this.retry = setTimeout(() => void this.attempt(), wait);
      this.retry.unref();
      return;
    }
    if (this.stopped) return;
    this.failures = 0;
    this.data.clear();
    for (const kv of kvs) this.data.set(this.relative(kv.key), kv.value);
    this.seen = revision;
    this.emit();
    this.watch();
  }

  private watch(): void {
    const w = this.client.etcd.watch().prefix(this.range).startRevision(String(this.seen + 1)).watcher();
    this.watcher = w;
    this.awaitAnswer(w);
    w.on('data', (res: IWatchResponse) => {
      this.client.lastWatchAnswer = Date.now();
      if (w === this.watcher) this.apply(res);
    });
    w.on('connected', () => {
      this.client.lastWatchAnswer = Date.now();
      if (w !== this.watcher) return;
      clearTimeout(this.answerTimer);
      this.client.noteUp();
      this.reported = undefined;
      // Back after a break: report what is known, which also clears the source error; the events missed meanwhile follow.
      this.emit();
    });
    w.on('disconnected', (err: Error) => {
      if (w !== this.watcher) return;
      // The library would resume from the last response's header revision + 1; events not yet
      // delivered up to that revision would be lost. Resume from what was applied instead.
      w.request.start_revision = String(this.seen + 1);
      this.awaitAnswer(w);
      // The library says each broken stream twice (its error, then its end) and again for every
      // failed reconnect (about twice a second): said once per cause, the cause not hidden by the end.
      if (err instanceof EtcdWatchStreamEnded && this.reported) return;
      const why = this.client.noteDown(err);
      const restarted = (err as { code?: number }).code === 1 && this.client.watchRestart;
      const message = `${this.describe()}: disconnected (${restarted || why})`;
      if (message === this.reported) return;
      this.reported = message;
      this.handler.onError(message);
    });
    w.on('error', (err: Error) => {
      if (w !== this.watcher) return;
      clearTimeout(this.answerTimer);
      // A canceled watch is not resumed by the library: read everything again, then watch from there.
      // etcd has ended it already: a cancel request for it would name a watch the library no longer knows.
      this.watcher = undefined;
      w.removeAllListeners();
      // An 'error' emitted with no listener would throw out of the library's stream handler.
      w.on('error', () => undefined);
      void this.read(cancelReason(err));
    });
  }

  /** (Re)starts the wait for etcd to answer the watch `w`; see WATCH_ANSWER_MS. */
  private awaitAnswer(w: Watcher): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => {
      if (w !== this.watcher || this.stopped) return;
      // The stream answers other watches: this one waits its turn (the library creates them one at a time).
      if (Date.now() - this.client.lastWatchAnswer < WATCH_ANSWER_MS) return this.awaitAnswer(w);
      this.client.restartWatchStream(`no answer on the watch stream for ${WATCH_ANSWER_MS / 1000} s; reconnecting`);
    }, WATCH_ANSWER_MS);
    this.answerTimer.unref();
  }

  /** Applies the events of one response that are newer than what was seen (a replay is skipped). */
  private apply(res: IWatchResponse): void {
    const before = this.seen;
    let changed = false;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= before) continue;
      const key = this.relative(ev.kv.key);
      if (ev.type === 'Put') this.data.set(key, ev.kv.value);
      else this.data.delete(key);
      this.seen = Math.max(this.seen, rev);
      changed = true;
    }
    // A progress notice (no events) says every event up to its revision was sent.
    if (res.events.length === 0) this.seen = Math.max(this.seen, Number(res.header.revision));
    if (changed) this.emit();
  }

  private relative(key: Buffer): string {
    return key.toString('utf8').slice(this.range.length);
  }

  private dropWatcher(): void {
    const w = this.watcher;
    this.watcher = undefined;
    if (w) void w.cancel().catch(() => undefined);
  }

  /** Reports every key, once per tick however many changes came in it. */
  private readonly emit = oncePerTick(() => {
    if (!this.stopped) this.handler.onChange(new Map(this.data));
  });
}
