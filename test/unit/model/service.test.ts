import { parseServiceDefinition, type ServiceParse } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers/index';

const parse = (raw: unknown, name = 'web'): ServiceParse => parseServiceDefinition(name, raw, WATCHER_SCHEMAS);

function errorsOf(result: ServiceParse): string[] {
  if (result.ok) throw new Error(`expected failure, got ${JSON.stringify(result.service)}`);
  return result.errors;
}

describe('parseServiceDefinition', () => {
  test('valid static blob with string and object servers', () => {
    const result = parse({
      type: 'static',
      port: 8080,
      listen_options: ['mode http', 'option httpchk GET /health'],
      server_options: ['check', 'inter 2s'],
      allow_empty: true,
      servers: ['10.0.0.1:80 5', { address: '::1', port: 81, weight: 0 }, { address: 'db.example', port: 82 }],
    });
    expect(result).toEqual({
      ok: true,
      service: {
        name: 'web',
        port: 8080,
        listenOptions: ['mode http', 'option httpchk GET /health'],
        serverOptions: ['check', 'inter 2s'],
        allowEmpty: true,
        watcher: {
          type: 'static',
          options: {
            servers: [
              { address: '10.0.0.1', port: 80, weight: 5 },
              { address: '::1', port: 81, weight: 0 },
              { address: 'db.example', port: 82 },
            ],
          },
        },
      },
    });
  });

  test('fills defaults for listen_options, server_options and allow_empty', () => {
    const result = parse({ type: 'static', port: 80, servers: [] });
    expect(result).toEqual({
      ok: true,
      service: { name: 'web', port: 80, listenOptions: [], serverOptions: [], allowEmpty: false, watcher: { type: 'static', options: { servers: [] } } },
    });
  });

  test('file type keeps its file option', () => {
    const result = parse({ type: 'file', port: 80, file: 'servers.txt' });
    expect(result.ok && result.service.watcher).toEqual({ type: 'file', options: { file: 'servers.txt' } });
  });

  test('file type requires file', () => {
    const errors = errorsOf(parse({ type: 'file', port: 80 }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^file: /);
  });

  test('unknown type lists the known types', () => {
    expect(errorsOf(parse({ type: 'consul', port: 80 }))).toEqual(['type: unknown watcher type "consul" (known: dns, etcd, file, static, zookeeper)']);
  });

  test.each([[{ port: 80 }], [{ type: 7, port: 80 }]])('missing or non-string type: %j', (raw) => {
    expect(errorsOf(parse(raw))).toEqual(['type: required, one of dns, etcd, file, static, zookeeper']);
  });

  test('an inherited property name is not a watcher type', () => {
    expect(errorsOf(parse({ type: 'toString', port: 80 }))[0]).toMatch(/^type: unknown watcher type "toString"/);
  });

  test.each([
    [null, 'expected an object, got null'],
    [[], 'expected an object, got an array'],
    ['static', 'expected an object, got string'],
    [80, 'expected an object, got number'],
    [undefined, 'expected an object, got undefined'],
  ])('non-object %j', (raw, message) => {
    expect(errorsOf(parse(raw))).toEqual([message]);
  });

  test.each(['my service', '.hidden', '-dash', 'a'.repeat(101), 'web\n', 'a:b', 'a/b', ''])('invalid service name %j', (name) => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [] }, name));
    expect(errors).toEqual([expect.stringContaining(`invalid service name ${JSON.stringify(name)}`)]);
  });

  test.each(['a', '_x', 'web-1.v2_b', 'a'.repeat(100)])('valid service name %j', (name) => {
    expect(parse({ type: 'static', port: 80, servers: [] }, name).ok).toBe(true);
  });

  test('unknown keys are rejected with the key named', () => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [], bogus: 1 }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('"bogus"');
  });

  test('keys of another watcher type are rejected', () => {
    expect(errorsOf(parse({ type: 'static', port: 80, servers: [], file: 'x' })).join('\n')).toContain('file');
  });

  test.each([
    [0, 'port: must be 1..65535'],
    [65536, 'port: must be 1..65535'],
    [-1, 'port: must be 1..65535'],
    [80.5, 'port: must be an integer'],
    ['80', 'port: must be an integer'],
    [null, 'port: must be an integer'],
  ])('port %j is rejected', (port, message) => {
    expect(errorsOf(parse({ type: 'static', port, servers: [] }))).toEqual([message]);
  });

  test('port is required', () => {
    expect(errorsOf(parse({ type: 'static', servers: [] }))).toEqual(['port: required']);
  });

  test('a missing key says "required", in nested objects too; a present but wrong one keeps its message', () => {
    expect(errorsOf(parse({ type: 'static', port: 80 }))).toEqual(['servers: required']);
    expect(errorsOf(parse({ type: 'static', port: 80, servers: [{ address: '10.0.0.1' }] }))).toEqual(['servers[0].port: required']);
    expect(errorsOf(parse({ type: 'static', port: 80, servers: [{ address: '10.0.0.1', port: '80' }] }))).toEqual(['servers[0].port: must be an integer']);
    expect(errorsOf(parse({ type: 'zookeeper', port: 80, server: '127.0.0.1:2181' }))).toEqual(['path: required']);
  });

  test.each([
    ['listen_options', 'mode http\nlisten evil'],
    ['listen_options', 'mode http\r'],
    ['listen_options', 'a\tb'],
    ['listen_options', 'nul\u0000'],
    ['listen_options', 'del\u007f'],
    ['server_options', 'check\nbackend evil'],
    ['server_options', 'check\u001b'],
  ])('control character in %s (%j) is rejected', (key, value) => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [], [key]: ['ok', value] }));
    expect(errors).toEqual([`${key}[1]: must not contain control characters (newline, tab, NUL, ...)`]);
  });

  test.each([257, -1])('object server weight %j is rejected', (weight) => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [{ address: '10.0.0.1', port: 80, weight }] }));
    expect(errors).toEqual(['servers[0].weight: must be 0..256']);
  });

  test('object server with a fractional weight is rejected', () => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [{ address: '10.0.0.1', port: 80, weight: 1.5 }] }));
    expect(errors).toEqual([expect.stringMatching(/^servers\[0\]\.weight: /)]);
  });

  test('object server with an invalid address is rejected', () => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [{ address: 'bad host', port: 80 }] }));
    expect(errors).toEqual(['servers[0].address: must be an IP address or a hostname']);
  });

  test.each([5, null, ['10.0.0.1:80']])('server entry %j that is neither string nor object is rejected', (entry) => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: [entry] }));
    expect(errors).toEqual([expect.stringMatching(/^servers\[0\]: /)]);
  });

  test('bad server string: the message names the entry and includes the bad value', () => {
    const errors = errorsOf(parse({ type: 'static', port: 80, servers: ['10.0.0.1:80', '10.0.0.2:99999'] }));
    expect(errors).toEqual(['servers[1]: invalid port "99999" (1..65535)']);
  });

  test('several problems are all reported', () => {
    const errors = errorsOf(parse({ type: 'static', port: 0, servers: 'x', allow_empty: 'yes' }));
    expect(errors.map((e) => e.split(':')[0]).sort()).toEqual(['allow_empty', 'port', 'servers']);
  });
});
