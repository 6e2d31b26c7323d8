import { watch, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirWatchRegistry, jittered } from '../../../src/util/dir-watch';
import { until } from '../../support/until';


/** A registry on real fs.watch that keeps every watcher it opened, and retries every 50 ms by default. */
function recordingRegistry(retryMs = 50) {
  const opened: FSWatcher[] = [];
  const closed: FSWatcher[] = [];
  const registry = new DirWatchRegistry({
    retryMs,
    watch: ((path: string, opts: object, listener: (type: string, name: string | null) => void) => {
      const w = watch(path, opts, listener);
      const close = w.close.bind(w);
      w.close = () => {
        closed.push(w);
        close();
      };
      opened.push(w);
      return w;
    }) as typeof watch,
  });
  return { registry, opened, closed };
}

describe('jittered', () => {
  test('stays within 10% either side', () => {
    expect(jittered(1000, () => 0)).toBe(900);
    expect(jittered(1000, () => 0.5)).toBe(1000);
    expect(jittered(1000, () => 1)).toBe(1100);
  });
});

describe('DirWatchRegistry', () => {
  let dir: string;
  const unsubscribe: (() => void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxymgr-dirwatch-'));
  });

  afterEach(() => {
    for (const u of unsubscribe.splice(0)) u();
    rmSync(dir, { recursive: true, force: true });
  });

  test('reports each name written, created, renamed or removed; a rename reports both names', async () => {
    const { registry } = recordingRegistry();
    const names: string[] = [];
    unsubscribe.push(registry.watchDir(dir, (n) => names.push(n)));
    writeFileSync(join(dir, 'a.json'), '1');
    await until(() => names.includes('a.json'), 'a.json created');
    writeFileSync(join(dir, '.a.tmp'), '2');
    renameSync(join(dir, '.a.tmp'), join(dir, 'b.json'));
    await until(() => names.includes('.a.tmp') && names.includes('b.json'), 'both names of the rename');
    names.length = 0;
    unlinkSync(join(dir, 'a.json'));
    await until(() => names.includes('a.json'), 'a.json removed');
  });

  test('a file subscription hears only its own name', async () => {
    const { registry } = recordingRegistry();
    let mine = 0;
    const all: string[] = [];
    unsubscribe.push(registry.watchFile(join(dir, 'servers.txt'), () => mine++));
    unsubscribe.push(registry.watchDir(dir, (n) => all.push(n)));
    writeFileSync(join(dir, 'other.txt'), 'x');
    await until(() => all.includes('other.txt'), 'the other file');
    expect(mine).toBe(0);
    writeFileSync(join(dir, 'servers.txt'), 'x');
    await until(() => mine > 0, 'servers.txt');
  });

  test('subscribers of one directory share one fs.watch, closed when the last one goes', async () => {
    const { registry, opened, closed } = recordingRegistry();
    const seen = [0, 0, 0];
    const u0 = registry.watchDir(dir, () => seen[0]++);
    const u1 = registry.watchFile(join(dir, 'a'), () => seen[1]++);
    const u2 = registry.watchFile(join(dir, '.', 'a'), () => seen[2]++);
    expect(opened).toHaveLength(1);
    expect(registry.watched()).toEqual(new Map([[dir, true]]));
    writeFileSync(join(dir, 'a'), 'x');
    await until(() => seen.every((n) => n > 0), 'every subscriber');
    u0();
    u1();
    u1();
    expect(closed).toHaveLength(0);
    u2();
    expect(closed).toHaveLength(1);
    expect(registry.watched().size).toBe(0);
    // Watching again opens a new one.
    unsubscribe.push(registry.watchDir(dir, () => undefined));
    expect(opened).toHaveLength(2);
  });

  test('a directory that does not exist yet is watched once it appears, and subscribers are told to look', async () => {
    const { registry } = recordingRegistry();
    const sub = join(dir, 'later');
    let resets = 0;
    let hits = 0;
    unsubscribe.push(registry.watchFile(join(sub, 'servers.txt'), () => hits++, () => resets++));
    expect(registry.watched().get(sub)).toBe(false);
    mkdirSync(sub);
    await until(() => resets === 1 && registry.watched().get(sub) === true, 'the watch established');
    writeFileSync(join(sub, 'servers.txt'), 'x');
    await until(() => hits > 0, 'an event from the new watch');
  });

  test.each([
    ['deleted', (d: string) => rmSync(d, { recursive: true })],
    ['moved away', (d: string) => renameSync(d, `${d}.old`)],
  ])('a directory %s and made again is watched afresh at once (not on the retry timer)', async (_what, away) => {
    const { registry, opened } = recordingRegistry(60_000);
    const sub = join(dir, 'services');
    mkdirSync(sub);
    const names: string[] = [];
    let resets = 0;
    unsubscribe.push(registry.watchDir(sub, (n) => names.push(n), () => resets++));
    writeFileSync(join(sub, 'old.json'), 'x');
    await until(() => names.includes('old.json'), 'the watch working');
    away(sub);
    mkdirSync(sub);
    await until(() => resets > 0 && registry.watched().get(sub) === true, 'the watch re-established');
    expect(opened.length).toBeGreaterThan(1);
    writeFileSync(join(sub, 'new.json'), 'x');
    await until(() => names.includes('new.json'), 'an event from the new directory');
  });

  test('a watcher error drops the watch; the retry brings it back and subscribers look again', async () => {
    const { registry, opened } = recordingRegistry();
    let resets = 0;
    const names: string[] = [];
    unsubscribe.push(registry.watchDir(dir, (n) => names.push(n), () => resets++));
    opened[0].emit('error', new Error('boom'));
    expect(registry.watched().get(dir)).toBe(false);
    await until(() => resets === 1 && registry.watched().get(dir) === true, 'the watch back');
    writeFileSync(join(dir, 'x.json'), 'x');
    await until(() => names.includes('x.json'), 'an event after the retry');
  });

  test('nothing is delivered after unsubscribing', async () => {
    const { registry } = recordingRegistry();
    const names: string[] = [];
    const witness: string[] = [];
    registry.watchDir(dir, (n) => names.push(n))();
    unsubscribe.push(registry.watchDir(dir, (n) => witness.push(n)));
    writeFileSync(join(dir, 'a'), 'x');
    await until(() => witness.includes('a'), 'the witness hears it');
    expect(names).toEqual([]);
  });
});
