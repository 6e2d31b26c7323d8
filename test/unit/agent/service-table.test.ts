import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceTable, type ServiceStatus } from '../../../src/agent/service-table';
import pino from 'pino';
import { silentLogger } from '../../../src/log';
import { sleep, until } from '../../support/until';

const GRACE = 1000;

const isIso = (s: string | undefined) => s !== undefined && new Date(s).toISOString() === s;

describe('ServiceTable source grace period (file watcher)', () => {
  let dir: string;
  let table: ServiceTable;
  let changes: number;
  const file = () => join(dir, 'db.servers');
  const status = (now?: number): ServiceStatus => table.statuses(now)[0];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxymgr-st-'));
    writeFileSync(file(), '127.0.0.1:8001\n');
    changes = 0;
    table = new ServiceTable(silentLogger(), () => changes++, {}, GRACE);
  });

  afterEach(async () => {
    await table.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('down within grace is a warning, after grace a problem; recovery clears it', async () => {
    const before = Date.now();
    table.upsert('db', { type: 'file', port: 9000, file: 'db.servers' }, 'test', dir);
    expect(changes).toBeGreaterThanOrEqual(1);
    await until(() => table.settled() && status().servers === 1, 'first servers');

    const up = status();
    expect(up).toMatchObject({ name: 'db', origin: 'test', port: 9000, type: 'file', servers: 1, ok: true, problems: [], warnings: [], sourceUp: true });
    expect(isIso(up.lastChange)).toBe(true);
    expect(Date.parse(up.lastChange!)).toBeGreaterThanOrEqual(before);
    expect(up.lastError).toBeUndefined();
    expect(table.get('db')?.servers).toEqual([{ address: '127.0.0.1', port: 8001 }]);

    const changesBeforeDelete = changes;
    const beforeDelete = Date.now();
    unlinkSync(file());
    await until(() => !status().sourceUp, 'source down');
    const detected = Date.now();
    expect(changes).toBeGreaterThan(changesBeforeDelete);

    // Just after the failure: still ok, servers kept, one warning naming the file.
    const early = status(Date.now());
    expect(early.ok).toBe(true);
    expect(early.problems).toEqual([]);
    expect(early.servers).toBe(1);
    expect(early.sourceUp).toBe(false);
    expect(early.warnings).toHaveLength(1);
    expect(early.warnings[0]).toContain(file());
    expect(early.warnings[0]).toContain('keeping the previous servers');
    expect(early.warnings[0]).toMatch(/\(since \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);

    // lastError records the failure with a time inside the window we observed.
    expect(early.lastError).toBeDefined();
    expect(early.lastError!.message).toContain(file());
    expect(isIso(early.lastError!.at)).toBe(true);
    const errAt = Date.parse(early.lastError!.at);
    expect(errAt).toBeGreaterThanOrEqual(beforeDelete);
    expect(errAt).toBeLessThanOrEqual(detected);

    // One ms short of the grace measured from before the delete is still a warning...
    expect(status(beforeDelete + GRACE - 1).ok).toBe(true);

    // ...and past the grace (from any possible start of the error) it is a problem.
    const late = status(Date.now() + GRACE + 1);
    expect(late.ok).toBe(false);
    expect(late.warnings).toEqual([]);
    expect(late.problems).toHaveLength(1);
    expect(late.problems[0]).toContain(file());
    expect(late.problems[0]).toContain('keeping the previous servers');
    expect(late.servers).toBe(1);
    expect(late.sourceUp).toBe(false);
    expect(table.get('db')?.servers).toEqual([{ address: '127.0.0.1', port: 8001 }]);

    // The same content coming back must be reported again and clear the error.
    writeFileSync(file(), '127.0.0.1:8001\n');
    await until(() => status().sourceUp, 'source back up');
    const back = status(Date.now() + GRACE + 1);
    expect(back).toMatchObject({ ok: true, problems: [], warnings: [], servers: 1, sourceUp: true });
    // The last error stays on record after recovery.
    expect(back.lastError?.message).toContain(file());
    // The server list did not change, so neither did lastChange.
    expect(back.lastChange).toBe(up.lastChange);
  });

  test('a changed server list moves lastChange', async () => {
    table.upsert('db', { type: 'file', port: 9000, file: 'db.servers' }, 'test', dir);
    await until(() => table.settled() && status().servers === 1, 'first servers');
    const first = status().lastChange!;
    await sleep(5);
    writeFileSync(file(), '127.0.0.1:8001\n127.0.0.1:8002\n');
    await until(() => status().servers === 2, 'two servers');
    expect(Date.parse(status().lastChange!)).toBeGreaterThan(Date.parse(first));
  });

  test('a missing file from the start is reported as a source error, settled', async () => {
    unlinkSync(file());
    table.upsert('db', { type: 'file', port: 9000, file: 'db.servers' }, 'test', dir);
    await until(() => table.settled(), 'settled');
    const s = status(Date.now());
    expect(s).toMatchObject({ servers: 0, sourceUp: false, ok: true, problems: [] });
    expect(s.warnings[0]).toContain('ENOENT');
    expect(status(Date.now() + GRACE + 1).ok).toBe(false);
  });
});

describe('ServiceTable invalid definitions', () => {
  let table: ServiceTable;
  let changes: number;

  beforeEach(() => {
    changes = 0;
    table = new ServiceTable(silentLogger(), () => changes++, {}, GRACE);
  });

  afterEach(async () => {
    await table.stopAll();
  });

  test('upsert of a blob missing fields: ok false, problems name the origin, lastError set', () => {
    const before = Date.now();
    table.upsert('web', { type: 'static' }, 'services/web.yml', '/tmp');
    expect(changes).toBe(1);
    const [s] = table.statuses();
    expect(s.name).toBe('web');
    expect(s.ok).toBe(false);
    expect(s.port).toBeUndefined();
    expect(s.servers).toBe(0);
    expect(s.problems.length).toBeGreaterThanOrEqual(2);
    for (const p of s.problems) expect(p.startsWith('services/web.yml: ')).toBe(true);
    expect(s.problems.some((p) => p.includes('port'))).toBe(true);
    expect(s.problems.some((p) => p.includes('servers'))).toBe(true);
    expect(s.lastError?.message).toBe(s.problems.join('; '));
    expect(Date.parse(s.lastError!.at)).toBeGreaterThanOrEqual(before);
    // An invalid definition has nothing to wait for.
    expect(table.settled()).toBe(true);
    expect(table.defined()).toEqual([]);
  });

  test('invalid() directly', () => {
    table.invalid('api', 'zk:/services/api', ['expected an object, got null']);
    const [s] = table.statuses();
    expect(s).toMatchObject({ name: 'api', origin: 'zk:/services/api', ok: false, problems: ['zk:/services/api: expected an object, got null'] });
    expect(s.lastError?.message).toBe('zk:/services/api: expected an object, got null');
  });

  test('a bad edit keeps the last valid definition running but reports the error; a fix clears it', async () => {
    table.upsert('web', { type: 'static', port: 8080, servers: ['10.0.0.1:80'] }, 'o1', '/tmp');
    await until(() => table.settled() && table.statuses()[0].servers === 1, 'static servers');
    expect(table.statuses()[0].ok).toBe(true);

    table.upsert('web', { type: 'static', port: 'x', servers: ['10.0.0.1:80'] }, 'o2', '/tmp');
    const bad = table.statuses()[0];
    expect(bad).toMatchObject({ ok: false, port: 8080, servers: 1, origin: 'o2' });
    expect(bad.problems[0]).toMatch(/^o2: port: /);
    expect(table.get('web')?.def?.port).toBe(8080);

    table.upsert('web', { type: 'static', port: 8080, servers: ['10.0.0.1:80'] }, 'o3', '/tmp');
    const fixed = table.statuses()[0];
    expect(fixed).toMatchObject({ ok: true, problems: [], servers: 1 });
    // The old error remains as history.
    expect(fixed.lastError?.message).toMatch(/^o2: port: /);
  });
});

describe('ServiceTable source_recovered', () => {
  let dir: string;
  let table: ServiceTable;
  let lines: Array<Record<string, unknown>>;
  const file = () => join(dir, 'db.servers');
  const events = (name: string) => lines.filter((l) => l.event === name);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxymgr-st-'));
    writeFileSync(file(), '127.0.0.1:8001\n');
    lines = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    table = new ServiceTable(log, () => undefined, {}, GRACE);
  });

  afterEach(async () => {
    await table.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('logged once after source_error and once after source_empty, naming the service and how long it was bad', async () => {
    table.upsert('db', { type: 'file', port: 9000, file: 'db.servers' }, 'test', dir);
    await until(() => table.get('db')?.servers.length === 1, 'first servers');
    expect(events('source_recovered')).toEqual([]);

    unlinkSync(file());
    await until(() => events('source_error').length > 0, 'source_error');
    await sleep(30);
    writeFileSync(file(), '127.0.0.1:8001\n');
    await until(() => events('source_recovered').length > 0, 'source_recovered');
    const [rec] = events('source_recovered');
    expect(rec).toMatchObject({ level: 30, service: 'db', servers: 1 });
    expect(rec.bad_ms).toBeGreaterThanOrEqual(25);
    expect(String(rec.error)).toContain(file());

    // A later ordinary update is not a recovery.
    writeFileSync(file(), '127.0.0.1:8001\n127.0.0.1:8002\n');
    await until(() => table.get('db')?.servers.length === 2, 'second server');
    expect(events('source_recovered')).toHaveLength(1);

    writeFileSync(file(), '');
    await until(() => events('source_empty').length > 0, 'source_empty');
    writeFileSync(file(), '127.0.0.1:8003\n');
    await until(() => events('source_recovered').length > 1, 'second source_recovered');
    expect(events('source_recovered')).toHaveLength(2);
    expect(events('source_recovered')[1]).toMatchObject({ service: 'db', servers: 1 });
    expect(String(events('source_recovered')[1].error)).toContain('source reported no servers');
  });
});
