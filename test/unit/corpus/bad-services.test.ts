import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ServiceTable } from '../../../src/agent/service-table';
import { parseServiceDefinition } from '../../../src/model/service';
import { decodeServiceFile, FileServiceConfig } from '../../../src/service-config/file';
import { WATCHER_SCHEMAS } from '../../../src/watchers';
import { hugeBlob, ODD_NAMES, serviceCorpus } from '../../corpus/corpus';

type Record_ = { event?: string; service?: string; origin?: string; errors?: string[] };

/** A ServiceTable whose log lines are kept, as the agent's would be printed. */
function capturingTable(): { table: ServiceTable; logs: Record_[] } {
  const logs: Record_[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record_) });
  return { table: new ServiceTable(log, () => undefined), logs };
}

const corpus = serviceCorpus();

describe('bad service corpus (test/corpus/services)', () => {
  test('covers every category', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(250);
    for (const prefix of ['ctrl-static-', 'ctrl-file-', 'ctrl-zookeeper-', 'ctrl-dns-', 'type-', 'range-', 'unknown-type-', 'zk-path-', 'zk-server-', 'nonobject-', 'truncated-'])
      expect(corpus.filter((e) => e.file.startsWith(prefix)).length).toBeGreaterThan(0);
  });

  test.each(corpus.map((e) => [e.file, e] as const))('%s: decoding or validation rejects it naming the field', (_file, e) => {
    const decoded = decodeServiceFile(e.path, e.text);
    const errors = decoded.ok ? (() => {
      const parsed = parseServiceDefinition(e.service, decoded.raw, WATCHER_SCHEMAS);
      return parsed.ok ? [] : parsed.errors;
    })() : [decoded.error];
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((line) => e.error.test(line))).toBe(true);
  });

  test('through the file source and the service table: every file is reported invalid by service name and field, none is defined', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-corpus-'));
    const { table, logs } = capturingTable();
    const source = new FileServiceConfig(dir);
    try {
      for (const e of corpus) copyFileSync(e.path, join(dir, e.file));
      await source.start(table);
      expect(logs.filter((l) => l.event === 'service_defined')).toEqual([]);
      const statuses = new Map(table.statuses().map((s) => [s.name, s]));
      const unreported: string[] = [];
      for (const e of corpus) {
        const origin = join(dir, e.file);
        const line = logs.find((l) => l.event === 'service_invalid' && l.service === e.service && l.origin === origin);
        const status = statuses.get(e.service);
        const ok =
          line !== undefined &&
          line.errors!.some((m) => e.error.test(m)) &&
          status !== undefined &&
          !status.ok &&
          status.problems.some((p) => p.startsWith(`${origin}: `) && e.error.test(p.slice(origin.length + 2)));
        if (!ok) unreported.push(`${e.file}: ${JSON.stringify(line?.errors ?? status?.problems)}`);
      }
      expect(unreported).toEqual([]);
      expect(table.defined()).toEqual([]);
      expect(statuses.size).toBe(corpus.length);
    } finally {
      await source.stop();
      await table.stopAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a blob over 1 MB (generated) is rejected by the file source by name, unread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmgr-corpus-'));
    const { table, logs } = capturingTable();
    const source = new FileServiceConfig(dir);
    try {
      writeFileSync(join(dir, 'huge.json'), hugeBlob());
      await source.start(table);
      expect(logs.filter((l) => l.event === 'service_invalid')).toEqual([
        expect.objectContaining({ service: 'huge', origin: join(dir, 'huge.json'), errors: ['larger than 1048576 bytes'] }),
      ]);
      expect(table.defined()).toEqual([]);
    } finally {
      await source.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('too many servers (10,001, generated) names the servers field', () => {
    const servers = Array.from({ length: 10_001 }, (_, i) => `127.0.${i >> 8}.${i & 255}:9000`);
    const r = parseServiceDefinition('many', { type: 'static', port: 18998, servers }, WATCHER_SCHEMAS);
    expect(!r.ok && r.errors).toEqual([expect.stringMatching(/^servers: /)]);
  });

  test.each(ODD_NAMES.map((n) => [JSON.stringify(n), n]))('service name %s (not a file name; e.g. a ZooKeeper child) is rejected by name', (_label, name) => {
    const { table, logs } = capturingTable();
    table.upsert(name, { type: 'static', port: 18997, servers: ['127.0.0.1:9000'] }, `zookeeper:/services/${name}`, '/tmp');
    expect(logs).toEqual([expect.objectContaining({ event: 'service_invalid', service: name, errors: [expect.stringMatching(/^invalid service name /)] })]);
    // The message quotes the name with JSON escapes: no raw newline reaches a log or status line.
    expect(logs[0].errors![0]).toContain(JSON.stringify(name));
    expect(table.defined()).toEqual([]);
  });
});

/** Once accepted (harmless: none reached haproxy.cfg), now refused when the blob is read, naming the field. */
describe('control characters and relative znode paths outside haproxy.cfg values', () => {
  const rejected = (raw: unknown, field: RegExp) => {
    const r = parseServiceDefinition('gap', raw, WATCHER_SCHEMAS);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(field);
  };

  test.each(['\n', '\r', '\t', '\u0000', '\u001b'])('file watcher: `file` with %j', (ch) => {
    rejected({ type: 'file', port: 18081, file: `web${ch}listen pmgrbad.servers` }, /file.*control characters/);
  });

  test.each(['127.0.0.1:9000\n5', '127.0.0.1:9000\t5', '\n127.0.0.1:9000\r\n', '127.0.0.1:9000\u2028'])('static server string %j', (spec) => {
    rejected({ type: 'static', port: 18080, servers: [spec] }, /servers.*control characters/);
  });

  test.each(['/services/..', '/services/./web'])('zookeeper path %j', (path) => {
    rejected({ type: 'zookeeper', port: 18082, server: '127.0.0.1:2181', path }, /path.*\. or \.\. segments/);
  });

  test.each(['\u2028', '\u2029', '\u0085'])('a Unicode line separator %j in a listen option', (ch) => {
    rejected({ type: 'static', port: 18083, servers: ['127.0.0.1:1'], listen_options: [`balance roundrobin${ch}listen pmgrbad`] }, /listen_options.*control characters/);
  });
});
