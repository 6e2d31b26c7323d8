import Ajv2020 from 'ajv/dist/2020';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { serviceJsonSchema } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers';

const ROOT = join(__dirname, '..', '..', '..');
const schema = serviceJsonSchema(WATCHER_SCHEMAS);
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

describe('the JSON Schema of service blobs (proxymgr schema)', () => {
  test('docs/service.schema.json is what `proxymgr schema` prints now', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'docs', 'service.schema.json'), 'utf8'))).toEqual(schema);
  });

  test('the shipped example services validate', () => {
    for (const [file, raw] of [
      ['watchers/web.json', JSON.parse(readFileSync(join(ROOT, 'watchers', 'web.json'), 'utf8'))],
      ['watchers/api.yaml', yaml.load(readFileSync(join(ROOT, 'watchers', 'api.yaml'), 'utf8'))],
    ] as const) {
      expect([file, validate(raw) ? [] : validate.errors]).toEqual([file, []]);
    }
  });

  test.each([
    { type: 'static', port: 8080, servers: ['10.0.0.1:80'], balance: 'leastconn', check: { interval_ms: 2000, http_path: '/h' } },
    { type: 'zookeeper', port: 8080, server: 'zk1:2181', path: '/services/web', timeouts: { server_ms: 30000 } },
    { type: 'dns', port: 8080, backends: [{ name: 'web.example', port: 80 }] },
  ])('valid blob %#', (blob) => {
    expect(validate(blob) ? [] : validate.errors).toEqual([]);
  });

  test.each([
    [{ type: 'static', port: 70000, servers: ['10.0.0.1:80'] }, 'port out of range'],
    [{ type: 'static', port: 8080, servers: ['10.0.0.1:80'], balance: 'static-rr' }, 'unknown balance'],
    [{ type: 'static', port: 8080, servers: ['10.0.0.1:80'], listen_options: ['a\nlisten evil'] }, 'newline in an option'],
    [{ type: 'static', port: 8080, servers: ['10.0.0.1:80'], surprise: 1 }, 'unknown key'],
    [{ type: 'carrier-pigeon', port: 8080 }, 'unknown type'],
    [{ type: 'zookeeper', port: 8080, server: 'zk1:2181', path: 'relative/path' }, 'relative znode path'],
  ] as Array<[unknown, string]>)('invalid blob: %j (%s)', (blob) => {
    expect(validate(blob)).toBe(false);
  });
});

describe('every shipped example service', () => {
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  const { parseServiceDefinition } = require('../../../src/model/service') as typeof import('../../../src/model/service');
  const files = [
    ...readdirSync(join(ROOT, 'watchers')).map((f) => join('watchers', f)),
    ...readdirSync(join(ROOT, 'examples', 'zookeeper')).map((f) => join('examples', 'zookeeper', f)),
    ...readdirSync(join(ROOT, 'examples', 'dns')).map((f) => join('examples', 'dns', f)),
    ...readdirSync(join(ROOT, 'examples', 'etcd')).map((f) => join('examples', 'etcd', f)),
    ...readdirSync(join(ROOT, 'examples', 'features', 'services')).map((f) => join('examples', 'features', 'services', f)),
  ].filter((f) => /\.(json|ya?ml)$/.test(f) && !f.endsWith('proxymgr.yml'));

  test('covers every watcher type', () => {
    const types = new Set(files.map((f) => (yaml.load(readFileSync(join(ROOT, f), 'utf8')) as { type: string }).type));
    expect([...types].sort()).toEqual(Object.keys(WATCHER_SCHEMAS).sort());
  });

  test.each(files)('%s is valid', (f) => {
    const raw = yaml.load(readFileSync(join(ROOT, f), 'utf8'));
    const r = parseServiceDefinition('example', raw, WATCHER_SCHEMAS);
    expect(r.ok ? [] : r.errors).toEqual([]);
    expect(validate(raw) ? [] : validate.errors).toEqual([]);
  });
});
