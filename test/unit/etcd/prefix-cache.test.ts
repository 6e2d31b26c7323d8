import { EventEmitter } from 'node:events';
import { EtcdWatchStreamEnded } from 'etcd3';
import type { EtcdClient } from '../../../src/etcd/client';
import { cancelReason, PrefixCache } from '../../../src/etcd/prefix-cache';

/** Stands in for the library's Watcher: the cache reads and rewrites `request.start_revision`. */
class FakeWatcher extends EventEmitter {
  request: { start_revision: string };
  canceled = false;
  constructor(start: string) {
    super();
    this.request = { start_revision: start };
  }
  async cancel(): Promise<void> {
    this.canceled = true;
  }
}

type Kv = { key: string; value: string; rev: number };
const kv = (k: Kv) => ({ key: Buffer.from(k.key), value: Buffer.from(k.value), mod_revision: String(k.rev) });

/** An EtcdClient whose reads answer from `store` at `revision`, and whose watches are FakeWatchers. */
function fakeClient() {
  const state = {
    store: [] as Kv[],
    revision: 1,
    readFails: 0,
    reads: [] as string[],
    watchers: [] as FakeWatcher[],
    ups: 0,
    downs: 0,
    restarts: [] as string[],
  };
  const client = {
    describe: () => 'etcd http://127.0.0.1:2379',
    lastError: undefined as string | undefined,
    watchRestart: undefined as string | undefined,
    lastWatchAnswer: 0,
    restartWatchStream: (reason: string) => {
      state.restarts.push(reason);
      client.watchRestart = reason;
      return true;
    },
    noteUp: () => state.ups++,
    noteDown: (err: unknown) => {
      state.downs++;
      client.lastError = String((err as Error).message);
      return client.lastError;
    },
    etcd: {
      getAll: () => ({
        prefix: (range: string) => ({
          exec: async () => {
            state.reads.push(range);
            if (state.readFails > 0) {
              state.readFails--;
              throw new Error('14 UNAVAILABLE: No connection established');
            }
            return { kvs: state.store.filter((k) => k.key.startsWith(range)).map(kv), header: { revision: String(state.revision) } };
          },
        }),
      }),
      watch: () => ({
        prefix: () => ({
          startRevision: (rev: string) => ({
            watcher: () => {
              const w = new FakeWatcher(rev);
              state.watchers.push(w);
              return w;
            },
          }),
        }),
      }),
    },
  };
  return { client: client as unknown as EtcdClient, state };
}

function recorder() {
  const seen = { changes: [] as Array<Record<string, string>>, errors: [] as string[], reads: [] as string[] };
  return {
    seen,
    handler: {
      onChange: (m: ReadonlyMap<string, Buffer>) => seen.changes.push(Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]))),
      onError: (message: string) => seen.errors.push(message),
      onRead: (reason: string) => seen.reads.push(reason),
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const settle = async () => {
  for (let i = 0; i < 5; i++) await tick();
};
const put = (key: string, value: string, rev: number, header = rev) => ({ header: { revision: String(header) }, events: [{ type: 'Put', kv: kv({ key, value, rev }) }] });
const del = (key: string, rev: number) => ({ header: { revision: String(rev) }, events: [{ type: 'Delete', kv: kv({ key, value: '', rev }) }] });

describe('cancelReason', () => {
  test('etcd 3.4 cancels a compacted watch without a reason: said as compacted', () => {
    expect(cancelReason(new Error('Watcher canceled: '))).toMatch(/^compacted/);
    expect(cancelReason(new Error('Watcher canceled:'))).toMatch(/^compacted/);
  });
  test('any other reason is kept as etcd gave it', () => {
    expect(cancelReason(new Error('Watcher canceled: etcdserver: permission denied'))).toBe('etcdserver: permission denied');
  });
});

describe('PrefixCache', () => {
  async function started() {
    const { client, state } = fakeClient();
    state.store = [
      { key: '/i/web/a', value: 'A', rev: 3 },
      { key: '/i/web/b', value: 'B', rev: 4 },
      { key: '/i/web2/x', value: 'X', rev: 4 },
    ];
    state.revision = 5;
    const r = recorder();
    const cache = new PrefixCache(client, '/i/web', r.handler);
    cache.start();
    await settle();
    return { cache, state, ...r };
  }

  test('reads `prefix/` (not a sibling prefix), then watches from the revision after the read', async () => {
    const { cache, state, seen } = await started();
    expect(state.reads).toEqual(['/i/web/']);
    expect(seen.reads).toEqual(['start']);
    expect(seen.changes).toEqual([{ a: 'A', b: 'B' }]);
    expect(state.watchers).toHaveLength(1);
    expect(state.watchers[0].request.start_revision).toBe('6');
    expect(cache.revision).toBe(5);
    cache.stop();
  });

  test('applies each event once: a replayed revision is skipped', async () => {
    const { cache, state, seen } = await started();
    const w = state.watchers[0];
    w.emit('data', put('/i/web/c', 'C', 6));
    w.emit('data', del('/i/web/a', 7));
    await settle();
    expect(seen.changes.at(-1)).toEqual({ b: 'B', c: 'C' });
    const count = seen.changes.length;
    // The same revisions again (as after a resume from too early a revision): nothing changes, nothing is emitted.
    w.emit('data', put('/i/web/a', 'A-old', 7));
    w.emit('data', put('/i/web/c', 'C', 6));
    await settle();
    expect(seen.changes).toHaveLength(count);
    expect(cache.revision).toBe(7);
    cache.stop();
  });

  test('a broken stream resumes from the revision after the last event applied, not the library guess', async () => {
    const { cache, state, seen } = await started();
    const w = state.watchers[0];
    w.emit('data', put('/i/web/c', 'C', 6, 9));
    // The library moved start_revision to the header's revision + 1 (10): events 7..9 would be lost.
    w.request.start_revision = '10';
    w.emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    expect(w.request.start_revision).toBe('7');
    expect(seen.errors.at(-1)).toMatch(/^etcd http:\/\/127\.0\.0\.1:2379 \/i\/web\/: disconnected \(14 UNAVAILABLE: Connection dropped\)/);
    expect(state.downs).toBe(1);
    const count = seen.changes.length;
    w.emit('connected', { header: { revision: '9' } });
    await settle();
    // Back: what is known is reported again (clears the source error), and no re-read happens.
    expect(seen.changes).toHaveLength(count + 1);
    expect(state.reads).toHaveLength(1);
    expect(state.watchers).toHaveLength(1);
    cache.stop();
  });

  test('a break is reported once per cause, not once per failed reconnect; the end that follows an error hides nothing', async () => {
    const { cache, state, seen } = await started();
    const w = state.watchers[0];
    const before = seen.errors.length;
    w.emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    w.emit('disconnected', new EtcdWatchStreamEnded());
    for (let i = 0; i < 5; i++) {
      w.emit('disconnected', new Error('14 UNAVAILABLE: No connection established'));
      w.emit('disconnected', new EtcdWatchStreamEnded());
    }
    expect(seen.errors.slice(before).map((e) => e.replace(/^.*disconnected /, ''))).toEqual(['(14 UNAVAILABLE: Connection dropped)', '(14 UNAVAILABLE: No connection established)']);
    // Back, then broken again: reported again.
    w.emit('connected', { header: { revision: '5' } });
    w.emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    expect(seen.errors.length - before).toBe(3);
    // A stream that just ends (no error before it) is a break too.
    w.emit('connected', { header: { revision: '5' } });
    w.emit('disconnected', new EtcdWatchStreamEnded());
    expect(seen.errors.length - before).toBe(4);
    // Every one of them resumes from the revision after the last applied.
    expect(w.request.start_revision).toBe('6');
    cache.stop();
  });

  test('a canceled watch (compaction) leads to exactly one re-read, then a new watch from its revision; the old watch is ignored', async () => {
    const { cache, state, seen } = await started();
    const old = state.watchers[0];
    state.store = [
      { key: '/i/web/b', value: 'B2', rev: 20 },
      { key: '/i/web/d', value: 'D', rev: 21 },
    ];
    state.revision = 30;
    old.emit('error', new Error('Watcher canceled: '));
    await settle();
    expect(seen.reads).toEqual(['start', 'compacted: the revision to resume from is gone']);
    expect(seen.changes.at(-1)).toEqual({ b: 'B2', d: 'D' });
    expect(state.watchers).toHaveLength(2);
    expect(state.watchers[1].request.start_revision).toBe('31');
    // Whatever the old watcher still says does not count.
    old.emit('data', put('/i/web/z', 'Z', 40));
    old.emit('error', new Error('Watcher canceled: '));
    await settle();
    expect(seen.reads).toHaveLength(2);
    expect(seen.changes.at(-1)).toEqual({ b: 'B2', d: 'D' });
    cache.stop();
    expect(state.watchers[1].canceled).toBe(true);
  });

  test('a read that fails keeps nothing from being removed and is tried again', async () => {
    const { client, state } = fakeClient();
    state.store = [{ key: '/i/web/a', value: 'A', rev: 2 }];
    state.revision = 2;
    state.readFails = 1;
    const r = recorder();
    const cache = new PrefixCache(client, '/i/web', r.handler);
    cache.start();
    await settle();
    expect(r.seen.errors).toEqual(['etcd http://127.0.0.1:2379 /i/web/: cannot read (14 UNAVAILABLE: No connection established)']);
    expect(r.seen.changes).toEqual([]);
    // The first retry comes after 400-600 ms.
    await new Promise((res) => setTimeout(res, 700));
    await settle();
    expect(state.reads).toHaveLength(2);
    expect(r.seen.changes).toEqual([{ a: 'A' }]);
    // A retry is the same read, not a new one: onRead is said once.
    expect(r.seen.reads).toEqual(['start']);
    cache.stop();
  });

  test('a watch etcd does not answer within 5 s gets its stream restarted; retries that keep failing, or an answer, do not', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const { cache, state, seen } = await started();
      const w = state.watchers[0];
      // Never connected: stuck.
      jest.advanceTimersByTime(5_000);
      expect(state.restarts).toEqual(['no answer on the watch stream for 5 s; reconnecting']);
      // The cancel breaks the stream: said with why.
      w.emit('disconnected', Object.assign(new Error('1 CANCELLED: Cancelled on client'), { code: 1 }));
      expect(seen.errors.at(-1)).toMatch(/disconnected \(no answer on the watch stream for 5 s; reconnecting\)/);
      // The library retrying (each retry fails again) re-arms the wait: no restart while it is retrying.
      for (let i = 0; i < 4; i++) {
        jest.advanceTimersByTime(2_000);
        w.emit('disconnected', new Error('14 UNAVAILABLE: No connection established'));
      }
      expect(state.restarts).toHaveLength(1);
      w.emit('connected', { header: { revision: '5' } });
      jest.advanceTimersByTime(60_000);
      expect(state.restarts).toHaveLength(1);
      cache.stop();
    } finally {
      jest.useRealTimers();
    }
  });

  test('a watch waiting its turn on a stream that answers other watches is not restarted', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const { cache, state } = await started();
      const w = state.watchers[0];
      // Another watch on the shared stream is answered every 2 s (the library creates watches one at a time).
      for (let i = 0; i < 5; i++) {
        jest.advanceTimersByTime(2_000);
        (cache as unknown as { client: { lastWatchAnswer: number } }).client.lastWatchAnswer = Date.now();
      }
      expect(state.restarts).toEqual([]);
      jest.advanceTimersByTime(10_000);
      expect(state.restarts).toHaveLength(1);
      void w;
      cache.stop();
    } finally {
      jest.useRealTimers();
    }
  });
});
