import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log';
import type { Server } from '../../../src/model/server';
import { DirWatchRegistry } from '../../../src/util/dir-watch';
import { fileWatcher, parseServersFile, ServersFileWatcher, type ServersFileWatcherOptions } from '../../../src/watchers/file';
import type { WatcherContext } from '../../../src/watchers/watcher';
import { sleep, until } from '../../support/until';

describe('parseServersFile', () => {
  test('comments, blank lines, weights and CRLF; result is normalized (sorted, deduped)', () => {
    const text = [
      '# backends for web',
      '',
      '10.0.0.2:80   # trailing comment',
      '   ',
      '10.0.0.1:80 5',
      '[::1]:8080 0',
      'db.example:5432',
      '10.0.0.2:80 9',
      '',
    ].join('\r\n');
    expect(parseServersFile(text, 'servers.txt')).toEqual({
      ok: true,
      value: [
        { address: '10.0.0.1', port: 80, weight: 5 },
        { address: '10.0.0.2', port: 80, weight: 9 },
        { address: 'db.example', port: 5432 },
        { address: '::1', port: 8080, weight: 0 },
      ],
    });
  });

  test("in line order with 'declared' (what the watcher reports; balance first follows it)", () => {
    const text = ['10.0.0.3:80', '10.0.0.1:80 5', '10.0.0.2:80', '10.0.0.3:80 7'].join('\n');
    expect(parseServersFile(text, 'f', 'declared')).toEqual({
      ok: true,
      value: [
        { address: '10.0.0.3', port: 80, weight: 7 },
        { address: '10.0.0.1', port: 80, weight: 5 },
        { address: '10.0.0.2', port: 80 },
      ],
    });
  });

  test.each(['', '\n\n', '# only a comment\n', '\r\n'])('no servers in %j', (text) => {
    expect(parseServersFile(text, 'f')).toEqual({ ok: true, value: [] });
  });

  test('one bad line rejects the whole file, with label:lineno', () => {
    const text = '10.0.0.1:80\n# comment\n10.0.0.2:99999\n10.0.0.3:80\n';
    expect(parseServersFile(text, '/srv/web.txt')).toEqual({ ok: false, error: '/srv/web.txt:3: invalid port "99999" (1..65535)' });
  });

  test('line numbers count CRLF lines', () => {
    const result = parseServersFile('10.0.0.1:80\r\n\r\nnope\r\n', 'f');
    expect(result).toEqual({ ok: false, error: 'f:3: missing port in "nope"' });
  });

  test('several bad lines are all listed, up to five, then counted', () => {
    const text = Array.from({ length: 7 }, (_, i) => `bad${i}`).join('\n');
    const result = parseServersFile(text, 'f');
    expect(result.ok).toBe(false);
    const error = result.ok ? '' : result.error;
    expect(error.split('; ').slice(0, 2)).toEqual(['f:1: missing port in "bad0"', 'f:2: missing port in "bad1"']);
    expect(error).toContain('f:5: missing port in "bad4"');
    expect(error).not.toContain('bad5');
    expect(error.endsWith(' (+2 more)')).toBe(true);
  });

  test('unix socket lines, with or without a weight, beside IP ones; a bad one is named by its line', () => {
    const text = ['unix:/run/b.sock 3  # php', '10.0.0.1:80', 'unix:/run/a.sock', ''].join('\n');
    expect(parseServersFile(text, 'f', 'declared')).toEqual({
      ok: true,
      value: [{ address: 'unix:/run/b.sock', port: 0, weight: 3 }, { address: '10.0.0.1', port: 80 }, { address: 'unix:/run/a.sock', port: 0 }],
    });
    expect(parseServersFile('10.0.0.1:80\nunix:run/a.sock\n', 'f')).toEqual({
      ok: false,
      error: 'f:2: invalid unix socket address "unix:run/a.sock": the socket path must be absolute (unix:/absolute/path)',
    });
  });

  test('too many tokens on a line is an error', () => {
    expect(parseServersFile('10.0.0.1:80 1 2', 'f')).toEqual({ ok: false, error: 'f:1: expected "host:port [weight]" or "unix:/path [weight]", got "10.0.0.1:80 1 2"' });
  });
});

type Report = { servers: Server[] } | { error: string };


/** A registry whose watches never report anything: only the periodic check can see changes. */
const deafRegistry = () =>
  new DirWatchRegistry({
    retryMs: 60_000,
    watch: (() => Object.assign(new EventEmitter(), { close: () => undefined })) as unknown as typeof watch,
  });

const one = (port: number): Report => ({ servers: [{ address: '10.0.0.1', port }] });
const kept = (what: string): Report => ({ error: `${what}; keeping the previous servers` });

describe('ServersFileWatcher', () => {
  let dir: string;
  let file: string;
  let reports: Report[];
  let watcher: ServersFileWatcher | undefined;
  const has = (r: Report) => reports.some((x) => JSON.stringify(x) === JSON.stringify(r));
  const count = (r: Report) => reports.filter((x) => JSON.stringify(x) === JSON.stringify(r)).length;

  const ctx = (): WatcherContext => ({
    service: 'web',
    baseDir: dir,
    defaults: {},
    log: silentLogger(),
    onUpdate: (servers) => reports.push({ servers }),
    onError: (error) => reports.push({ error }),
  });
  const start = (path = file, opts: Partial<ServersFileWatcherOptions> = {}) => {
    watcher = new ServersFileWatcher(path, ctx(), opts);
    watcher.start();
  };
  /** A temp file renamed over the target, as config management writes. */
  const atomicWrite = (path: string, text: string) => {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxymgr-fw-'));
    file = join(dir, 'web.servers');
    reports = [];
  });

  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  test('the blob key resolves against the base directory', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    const w = fileWatcher.create({ file: 'web.servers' }, ctx());
    w.start();
    await until(() => has(one(80)), 'the first read');
    await w.stop();
  });

  test('read on start, on each write in place or by rename; other files in the directory are ignored', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    start();
    await until(() => has(one(80)), 'the first read');
    writeFileSync(file, '10.0.0.1:81\n');
    await until(() => has(one(81)), 'a write in place');
    atomicWrite(file, '10.0.0.1:82\n');
    await until(() => has(one(82)), 'a rename over it');
    writeFileSync(join(dir, 'other.servers'), 'nonsense\n');
    atomicWrite(file, '10.0.0.1:83\n');
    await until(() => has(one(83)), 'the next write');
    // (A read can overlap the write in place and see it half done: no exact sequence here.)
    expect(reports.filter((r) => 'error' in r)).toEqual([]);
    expect(reports[reports.length - 1]).toEqual(one(83));
  });

  test('the same text again is silent; removal is reported once, and the same text back reports again', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    start();
    await until(() => has(one(80)), 'the first read');
    atomicWrite(file, '10.0.0.1:80\n');
    // Past the follow-up read of the rewrite.
    await sleep(250);
    unlinkSync(file);
    await until(() => reports.length > 1, 'the removal');
    // Past the follow-up read of the removal.
    await sleep(250);
    writeFileSync(file, '10.0.0.1:80\n');
    await until(() => count(one(80)) === 2, 'the file back');
    expect(reports).toEqual([one(80), kept(`${file}: removed`), one(80)]);
  });

  test('a bad line keeps the previous servers, once per text', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    start();
    await until(() => has(one(80)), 'the first read');
    atomicWrite(file, '10.0.0.1:80\nnope\n');
    await until(() => reports.length === 2, 'the error');
    atomicWrite(file, '10.0.0.1:81\n');
    await until(() => has(one(81)), 'fixed');
    expect(reports).toEqual([one(80), kept(`${file}:2: missing port in "nope"`), one(81)]);
  });

  test('larger than 4 MiB is an error, and the same text as before afterwards is news', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    start();
    await until(() => has(one(80)), 'the first read');
    atomicWrite(file, '#'.repeat(4 * 1024 * 1024 + 1));
    await until(() => has(kept(`${file}: larger than 4194304 bytes`)), 'too large');
    atomicWrite(file, '10.0.0.1:80\n');
    await until(() => count(one(80)) === 2, 'back to the first text');
  });

  test('a directory where the file should be is a read error', async () => {
    mkdirSync(file);
    start();
    await until(() => reports.length > 0, 'the error');
    expect(reports).toEqual([kept(`${file}: not a regular file`)]);
  });

  test('a file in a directory that does not exist yet: ENOENT, then picked up once both appear', async () => {
    const later = join(dir, 'later', 'web.servers');
    start(later, { checkMs: 50, registry: new DirWatchRegistry({ retryMs: 60_000 }) });
    await until(() => reports.length > 0, 'the error');
    expect(reports).toEqual([kept(`${later}: ENOENT`)]);
    mkdirSync(join(dir, 'later'));
    writeFileSync(later, '10.0.0.1:80\n');
    await until(() => has(one(80)), 'the file once it exists');
  });

  test('the directory watch coming back looks at the file at once', async () => {
    const later = join(dir, 'later', 'web.servers');
    start(later, { registry: new DirWatchRegistry({ retryMs: 50 }) });
    await until(() => reports.length > 0, 'the error');
    mkdirSync(join(dir, 'later'));
    writeFileSync(later, '10.0.0.1:80\n');
    await until(() => has(one(80)), 'the file once the watch is there');
  });

  test('the periodic check finds a change no event reported, and a removal', async () => {
    writeFileSync(file, '10.0.0.1:80\n');
    start(file, { checkMs: 50, registry: deafRegistry() });
    await until(() => has(one(80)), 'the first read');
    atomicWrite(file, '10.0.0.1:81\n');
    await until(() => has(one(81)), 'the change');
    unlinkSync(file);
    await until(() => has(kept(`${file}: removed`)), 'the removal');
    expect(reports).toEqual([one(80), one(81), kept(`${file}: removed`)]);
  });

  test('stop ends the watching, and the shared watch with it', async () => {
    const registry = new DirWatchRegistry({ retryMs: 60_000 });
    writeFileSync(file, '10.0.0.1:80\n');
    start(file, { registry });
    await until(() => has(one(80)), 'the first read');
    expect(registry.watched().size).toBe(1);
    await watcher!.stop();
    expect(registry.watched().size).toBe(0);
  });
});
