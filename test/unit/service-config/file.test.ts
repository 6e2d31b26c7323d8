import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { decodeServiceFile, FileServiceConfig, type FileServiceConfigOptions } from '../../../src/service-config/file';
import type { ServiceConfigHandler } from '../../../src/service-config/source';
import { DirWatchRegistry } from '../../../src/util/dir-watch';
import * as readCappedModule from '../../../src/util/read-capped';
import { sleep, until } from '../../support/until';

describe('decodeServiceFile', () => {
  const blob = { type: 'static', port: 80, servers: ['10.0.0.1:80'] };

  test.each([
    ['/d/web.json', JSON.stringify(blob)],
    ['/d/web.yaml', 'type: static\nport: 80\nservers:\n  - 10.0.0.1:80\n'],
    ['/d/web.yml', 'type: static\nport: 80\nservers: ["10.0.0.1:80"]\n'],
    ['/d/web.yaml', JSON.stringify(blob)],
  ])('decodes %s', (path, text) => {
    expect(decodeServiceFile(path, text)).toEqual({ ok: true, raw: blob });
  });

  test('YAML uses the JSON schema: no dates, no sexagesimal, yes/no stay strings', () => {
    expect(decodeServiceFile('/d/a.yaml', 'd: 2024-01-01\nn: 1:30\nb: yes\nt: true')).toEqual({
      ok: true,
      raw: { d: '2024-01-01', n: '1:30', b: 'yes', t: true },
    });
  });

  test('an empty YAML file decodes to undefined (left for validation to reject)', () => {
    expect(decodeServiceFile('/d/a.yml', '')).toEqual({ ok: true, raw: undefined });
  });

  test('JSON is parsed strictly (YAML syntax is an error in a .json file)', () => {
    const r = decodeServiceFile('/d/web.json', 'type: static');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/^cannot decode JSON: \S/);
  });

  test.each([
    ['/d/web.json', '{"port": 80,', /^cannot decode JSON: /],
    ['/d/web.yaml', 'a: [1, 2\n', /^cannot decode YAML: /],
    ['/d/web.yml', 'a: b\n  c: d\n', /^cannot decode YML: /],
    ['/d/web.yaml', '---\na: 1\n---\nb: 2\n', /^cannot decode YAML: /],
  ])('decode error for %s %j', (path, text, pattern) => {
    const r = decodeServiceFile(path, text);
    expect(r.ok).toBe(false);
    const error = r.ok ? '' : r.error;
    expect(error).toMatch(pattern);
    expect(error).not.toContain('\n');
  });
});

type Call = ['upsert', string, unknown, string] | ['remove', string] | ['invalid', string, string, string[]];

/** A FileServiceConfig on a fresh temp directory, recording what it delivers. */
function setup(files: Record<string, string> = {}, opts: Partial<FileServiceConfigOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'proxymgr-fsc-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const calls: Call[] = [];
  const handler: ServiceConfigHandler = {
    upsert: (name, raw, origin) => calls.push(['upsert', name, raw, origin]),
    remove: (name) => calls.push(['remove', name]),
    invalid: (name, origin, problems) => calls.push(['invalid', name, origin, problems]),
  };
  const source = new FileServiceConfig(dir, opts);
  return { dir, calls, handler, source, path: (name: string) => join(dir, name) };
}

/** Writes a file the way config management does: a temp file renamed over the target. */
function atomicWrite(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** A registry whose watches never report anything: only the rescan can see changes. */
const deafRegistry = () =>
  new DirWatchRegistry({
    retryMs: 60_000,
    watch: (() => Object.assign(new EventEmitter(), { close: () => undefined })) as unknown as typeof watch,
  });


const svc = (port: number) => ({ type: 'static', port, servers: [`10.0.0.1:${port}`] });
const json = (port: number) => JSON.stringify(svc(port));

describe('FileServiceConfig', () => {
  let t: ReturnType<typeof setup>;
  const has = (call: Call) => t.calls.some((c) => JSON.stringify(c) === JSON.stringify(call));

  afterEach(async () => {
    await t.source.stop();
    rmSync(t.dir, { recursive: true, force: true });
  });

  test('start delivers the service files, and only those, before resolving', async () => {
    t = setup({ 'web.json': json(80), 'db.yaml': 'type: static\nport: 5432\nservers: []\n', '.hidden.json': json(1), 'notes.txt': 'x', 'web.json~': 'x' });
    mkdirSync(join(t.dir, 'sub.json'));
    writeFileSync(join(t.dir, 'sub.json', 'inner.json'), json(2));
    await t.source.start(t.handler);
    expect(t.calls).toEqual([
      ['upsert', 'db', { type: 'static', port: 5432, servers: [] }, t.path('db.yaml')],
      ['upsert', 'web', svc(80), t.path('web.json')],
    ]);
  });

  test('start fails for a missing directory', async () => {
    t = setup();
    const missing = new FileServiceConfig(join(t.dir, 'nope'));
    await expect(missing.start(t.handler)).rejects.toThrow(/is not a directory/);
  });

  test('a file added, changed in place, replaced by rename, and removed', async () => {
    t = setup();
    await t.source.start(t.handler);
    writeFileSync(t.path('web.json'), json(80));
    await until(() => has(['upsert', 'web', svc(80), t.path('web.json')]), 'web added');
    writeFileSync(t.path('web.json'), json(81));
    await until(() => has(['upsert', 'web', svc(81), t.path('web.json')]), 'web changed');
    atomicWrite(t.path('web.json'), json(82));
    await until(() => has(['upsert', 'web', svc(82), t.path('web.json')]), 'web renamed over');
    unlinkSync(t.path('web.json'));
    await until(() => has(['remove', 'web']), 'web removed');
    // The rename never left the target missing: no remove before the last one, and no temp file seen.
    expect(t.calls.filter((c) => c[0] === 'remove')).toHaveLength(1);
    expect(t.calls.every((c) => c[1] === 'web')).toBe(true);
  });

  test('each of many quick writes is seen, the last one for sure', async () => {
    t = setup({ 'web.json': json(1000) });
    await t.source.start(t.handler);
    for (let port = 1001; port <= 1050; port++) atomicWrite(t.path('web.json'), json(port));
    await until(() => has(['upsert', 'web', svc(1050), t.path('web.json')]), 'the last write');
  });

  test('two files for one service are an error until one goes; a dotfile is never one of them', async () => {
    t = setup({ 'web.json': json(80) });
    await t.source.start(t.handler);
    writeFileSync(t.path('.web.yaml'), 'port: 1');
    writeFileSync(t.path('web.yaml'), 'type: static\nport: 80\nservers: ["10.0.0.1:80"]\n');
    const twice: Call = ['invalid', 'web', t.dir, [`defined twice: ${t.path('web.json')} and ${t.path('web.yaml')}`]];
    await until(() => has(twice), 'defined twice');
    // Writing to one of them again says nothing new.
    atomicWrite(t.path('web.json'), json(81));
    unlinkSync(t.path('web.yaml'));
    await until(() => has(['upsert', 'web', svc(81), t.path('web.json')]), 'web.json alone again');
    expect(t.calls.filter((c) => c[0] === 'invalid')).toEqual([twice]);
    expect(t.calls.filter((c) => c[0] === 'remove')).toEqual([]);
  });

  test('unchanged bytes are silent, whether rewritten, touched or rescanned', async () => {
    t = setup({ 'web.json': json(80), 'db.json': json(5432) });
    await t.source.start(t.handler);
    const initial = t.calls.length;
    atomicWrite(t.path('web.json'), json(80));
    writeFileSync(t.path('db.json'), json(5432));
    utimesSync(t.path('db.json'), new Date(), new Date(Date.now() + 5000));
    await t.source.rescan();
    // Past the follow-up reads; then a change to a third file marks the end of the queue.
    await sleep(250);
    writeFileSync(t.path('end.json'), json(1));
    await until(() => has(['upsert', 'end', svc(1), t.path('end.json')]), 'the end marker');
    expect(t.calls.slice(initial)).toEqual([['upsert', 'end', svc(1), t.path('end.json')]]);
  });

  test('the rescan finds what the watch missed: added, changed, removed; and nothing else', async () => {
    t = setup({ 'web.json': json(80), 'db.json': json(5432), 'old.json': json(1) }, { registry: deafRegistry() });
    await t.source.start(t.handler);
    const initial = t.calls.length;
    writeFileSync(t.path('web.json'), json(81));
    atomicWrite(t.path('new.yml'), 'type: static\nport: 9\nservers: []\n');
    unlinkSync(t.path('old.json'));
    const reads = jest.spyOn(readCappedModule, 'readCapped');
    await t.source.rescan();
    // Only what changed is opened: db.json's stat is as it was when read.
    expect(reads.mock.calls.map((c) => basename(c[0])).sort()).toEqual(['new.yml', 'old.json', 'web.json']);
    expect(t.calls.slice(initial).sort((a, b) => a[1].localeCompare(b[1]))).toEqual([
      ['upsert', 'new', { type: 'static', port: 9, servers: [] }, t.path('new.yml')],
      ['remove', 'old'],
      ['upsert', 'web', svc(81), t.path('web.json')],
    ]);
    reads.mockClear();
    await t.source.rescan();
    expect(t.calls).toHaveLength(initial + 3);
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  test('the rescan also runs by itself on its timer', async () => {
    t = setup({ 'web.json': json(80) }, { registry: deafRegistry(), rescanMs: 50 });
    await t.source.start(t.handler);
    writeFileSync(t.path('web.json'), json(81));
    await until(() => has(['upsert', 'web', svc(81), t.path('web.json')]), 'the periodic rescan');
  });

  test('a change made while the directory watch was lost is found once the watch is back', async () => {
    const opened: FSWatcher[] = [];
    const registry = new DirWatchRegistry({
      retryMs: 50,
      watch: ((...args: Parameters<typeof watch>) => {
        const w = watch(...args);
        opened.push(w);
        return w;
      }) as typeof watch,
    });
    t = setup({ 'web.json': json(80) }, { registry });
    await t.source.start(t.handler);
    opened[0].emit('error', new Error('gone'));
    // Written while there is no watch: no event will ever say so.
    writeFileSync(t.path('web.json'), json(81));
    await until(() => has(['upsert', 'web', svc(81), t.path('web.json')]), 'the rescan after the watch came back');
    expect(opened.length).toBeGreaterThan(1);
  });

  test('a directory that cannot be listed keeps every service and is a problem until it is back', async () => {
    t = setup({ 'web.json': json(80) });
    await t.source.start(t.handler);
    expect(t.source.problem()).toBeUndefined();
    // Moved away whole: no file is deleted one by one.
    renameSync(t.dir, `${t.dir}.away`);
    try {
      await t.source.rescan();
      expect(t.source.problem()?.message).toBe(`service config file:${t.dir}: cannot list the directory (ENOENT); keeping every service as it is`);
      expect(t.calls).toHaveLength(1);
    } finally {
      renameSync(`${t.dir}.away`, t.dir);
    }
    writeFileSync(t.path('web.json'), json(81));
    await t.source.rescan();
    expect(t.source.problem()).toBeUndefined();
    expect(t.calls).toEqual([
      ['upsert', 'web', svc(80), t.path('web.json')],
      ['upsert', 'web', svc(81), t.path('web.json')],
    ]);
  });

  test('larger than 1 MiB, undecodable, and then fixed', async () => {
    t = setup({ 'web.json': json(80) });
    await t.source.start(t.handler);
    atomicWrite(t.path('web.json'), ' '.repeat(1024 * 1024 + 1));
    await until(() => has(['invalid', 'web', t.path('web.json'), ['larger than 1048576 bytes']]), 'too large');
    atomicWrite(t.path('web.json'), '{');
    await until(() => t.calls.some((c) => c[0] === 'invalid' && /^cannot decode JSON/.test(c[3][0])), 'undecodable');
    atomicWrite(t.path('web.json'), json(80));
    await until(() => t.calls.filter((c) => c[0] === 'upsert').length === 2, 'the same service again');
  });

  test('stop ends the watching, and the shared watch with it', async () => {
    const registry = new DirWatchRegistry({ retryMs: 60_000 });
    t = setup({ 'web.json': json(80) }, { registry });
    await t.source.start(t.handler);
    expect(registry.watched().size).toBe(1);
    await t.source.stop();
    expect(registry.watched().size).toBe(0);
    writeFileSync(t.path('web.json'), json(81));
    await t.source.rescan();
    expect(t.calls).toHaveLength(1);
  });
});
