import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceTable } from '../../../src/agent/service-table';
import { silentLogger } from '../../../src/log';
import { TestPki } from '../../support/pki';
import { until } from '../../support/until';

describe('ServiceTable: files a blob names are checked at the door', () => {
  let pki: TestPki;
  let dir: string;
  let table: ServiceTable;
  let changes: string[];

  beforeAll(async () => {
    pki = await TestPki.create();
  });
  afterAll(() => pki.cleanup());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'proxymgr-stf-'));
    changes = [];
    table = new ServiceTable(silentLogger(), (n) => changes.push(n));
    table.fileRetryMs = 20;
  });
  afterEach(async () => {
    await table.stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const blob = (caFile: string) => ({ type: 'static', port: 9000, servers: ['127.0.0.1:8443'], tls: { ca_file: caFile } });

  test('a missing CA file keeps the service out with an error naming the field; the file put in place later brings it in', async () => {
    const ca = join(dir, 'ca.pem');
    table.upsert('web', blob(ca), 'web.json', dir);
    expect(table.get('web')?.def).toBeUndefined();
    expect(table.status('web')?.problems).toEqual([`web.json: tls.ca_file: ${ca}: not readable (ENOENT)`]);
    expect(table.defined()).toEqual([]);

    copyFileSync(pki.caCert, ca);
    await until(() => table.get('web')?.def !== undefined, 'the service accepted once its CA file exists');
    expect(table.status('web')).toMatchObject({ ok: true, problems: [] });
    expect(table.get('web')?.def?.serverOptions).toEqual([`ssl verify required ca-file ${ca}`]);
  });

  test('a bad edit keeps the last good definition in force, as for any invalid blob; the other services are untouched', () => {
    table.upsert('web', blob(pki.caCert), 'web.json', dir);
    table.upsert('api', { type: 'static', port: 9001, servers: ['127.0.0.1:8080'] }, 'api.json', dir);
    table.upsert('web', blob('/nonexistent/ca.pem'), 'web.json', dir);
    expect(table.get('web')?.def?.serverOptions).toEqual([`ssl verify required ca-file ${pki.caCert}`]);
    expect(table.status('web')?.problems).toEqual(['web.json: tls.ca_file: /nonexistent/ca.pem: not readable (ENOENT)']);
    expect(table.status('api')).toMatchObject({ ok: true });
  });

  test('a new blob, or the service removed, stops the retries for the old one', async () => {
    table.upsert('web', blob(join(dir, 'late.pem')), 'web.json', dir);
    table.upsert('web', blob(pki.caCert), 'web.json', dir);
    expect(table.status('web')?.ok).toBe(true);
    await until(() => table.settled(), 'the static watcher reported');
    copyFileSync(pki.caCert, join(dir, 'late.pem'));
    const seen = changes.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(changes.length).toBe(seen);
    expect(table.get('web')?.def?.serverOptions).toEqual([`ssl verify required ca-file ${pki.caCert}`]);

    table.upsert('db', blob(join(dir, 'db-ca.pem')), 'db.json', dir);
    table.remove('db');
    copyFileSync(pki.caCert, join(dir, 'db-ca.pem'));
    await new Promise((r) => setTimeout(r, 100));
    expect(table.get('db')).toBeUndefined();
  });
});
