import zookeeper, { type Event } from 'node-zookeeper-client';
import { describeZkError, isNoAuth, zkCode } from './errors';
import { splitConnectString } from './fields';
import { withTimeout, type ZkSession } from './session';
import { oncePerTick } from '../util/once-per-tick';

const OP_TIMEOUT_MS = 10_000;
// A permission error does not go away by itself: back off (to 30 s) so that a fleet of
// sidecars with a wrong password does not list every service every second. A new session,
// a reconnect or new credentials (SIGHUP restarts the watchers) still re-read at once.
const NOAUTH_RETRY_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

export interface ChildrenCacheHandler {
  /** Every child of the path with its data, after any change (coalesced per tick). */
  onChange(children: ReadonlyMap<string, Buffer>): void;
  /** The path cannot be read right now (missing, unreachable, not allowed); the last children stay in force. */
  onError(message: string): void;
  /** A child whose data could not be read (NOAUTH, say): left out of `onChange` until it can. */
  onUnreadable?(name: string, message: string): void;
}

/**
 * Keeps the children of one znode and their data, with watches re-armed after every
 * firing (ZooKeeper watches are one-shot). A new child costs one read; the others
 * are not re-read when the list changes, only when their own data changes.
 */
export class ChildrenCache {
  private readonly data = new Map<string, Buffer>();
  private stopped = false;
  private listing = false;
  private relist = false;
  private rereadAll = false;
  private noAuthStreak = 0;
  // One function per watch: the client dedupes watchers by identity, so re-arming never stacks them.
  private readonly childrenWatcher = (_ev: Event) => void this.list();
  private readonly dataWatchers = new Map<string, (ev: Event) => void>();

  // Spread the re-reads of a fleet of sidecars that lost the same server at once. The same
  // session's watches were restored by the client, so its re-read is a safety net and can
  // wait longer; a new session has no watches, so its re-read is what brings changes in.
  private readonly onReconnected = (e?: { newSession?: boolean }) =>
    void setTimeout(this.rereadEverything, Math.random() * (e?.newSession ? 250 : 1000)).unref();
  private readonly onReplaced = () => void setTimeout(this.rereadEverything, Math.random() * 250).unref();

  private readonly rereadEverything = () => {
    if (this.stopped) return;
    // Read every child again (a failed read keeps the old data).
    this.rereadAll = true;
    void this.list();
  };

  constructor(
    private readonly session: ZkSession,
    readonly path: string,
    private readonly handler: ChildrenCacheHandler,
  ) {}

  private get client() {
    return this.session.client;
  }

  private describe(err: unknown, op: string): string {
    return describeZkError(err, op, this.session.options.auth, splitConnectString(this.session.connectString).chroot);
  }

  start(): void {
    this.session.on('replaced', this.onReplaced);
    this.session.on('reconnected', this.onReconnected);
    void this.list();
  }

  stop(): void {
    this.stopped = true;
    this.session.off('replaced', this.onReplaced);
    this.session.off('reconnected', this.onReconnected);
  }

  private async list(): Promise<void> {
    if (this.stopped) return;
    if (this.listing) {
      this.relist = true;
      return;
    }
    this.listing = true;
    try {
      const names = await withTimeout(
        new Promise<string[]>((resolve, reject) =>
          this.client.getChildren(
            this.path,
            this.childrenWatcher,
            (err, children) => (err ? reject(err) : resolve(children)),
          ),
        ),
        OP_TIMEOUT_MS,
        `listing ${this.path} timed out`,
      );
      const now = new Set(names);
      for (const name of [...this.data.keys()]) {
        if (!now.has(name)) {
          this.data.delete(name);
          this.dataWatchers.delete(name);
        }
      }
      const all = this.rereadAll;
      this.rereadAll = false;
      await Promise.all(names.filter((n) => all || !this.data.has(n)).map((n) => this.read(n)));
      this.noAuthStreak = 0;
      this.emit();
    } catch (err) {
      const e = err as Error & { getCode?: () => number };
      if (e.getCode?.() === zookeeper.Exception.NO_NODE) {
        // Watch for the path to appear; keep what we had.
        // Created between the listing and this call? Then no creation event comes: list again now.
        this.client.exists(this.path, () => void this.list(), (err, stat) => {
          if (!err && stat) void this.list();
        });
        this.handler.onError(`${this.path} ${this.describe(err, 'list')}`);
      } else {
        this.handler.onError(`${this.path}: ${this.describe(err, 'list')}`);
        const wait = isNoAuth(err) ? NOAUTH_RETRY_MS[Math.min(this.noAuthStreak++, NOAUTH_RETRY_MS.length - 1)] * (0.8 + 0.4 * Math.random()) : 1000;
        setTimeout(() => void this.list(), wait).unref();
      }
    } finally {
      this.listing = false;
      if (this.relist) {
        this.relist = false;
        void this.list();
      }
    }
  }

  private read(name: string): Promise<void> {
    const path = `${this.path}/${name}`;
    return withTimeout(
      new Promise<void>((resolve) =>
        this.client.getData(
          path,
          this.dataWatcher(name),
          (err, data) => {
            if (!err) this.data.set(name, data ?? Buffer.alloc(0));
            // A child gone between the listing and the read is the children watch's business.
            else if (zkCode(err) !== zookeeper.Exception.NO_NODE && !this.stopped) this.handler.onUnreadable?.(name, `${path}: ${this.describe(err, 'read')}`);
            resolve();
          },
        ),
      ),
      OP_TIMEOUT_MS,
      `reading ${path} timed out`,
    ).catch(() => undefined);
  }

  private dataWatcher(name: string): (ev: Event) => void {
    let w = this.dataWatchers.get(name);
    if (!w) {
      // A deleted child is handled by the children watch; a changed one is read again.
      w = (ev: Event) => {
        if (ev.getType() === zookeeper.Event.NODE_DATA_CHANGED && !this.stopped) void this.read(name).then(() => this.emit());
      };
      this.dataWatchers.set(name, w);
    }
    return w;
  }

  /** Reports every child, once per tick however many changes came in it. */
  private readonly emit = oncePerTick(() => {
    if (!this.stopped) this.handler.onChange(new Map(this.data));
  });
}
