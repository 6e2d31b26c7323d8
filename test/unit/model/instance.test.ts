import { decodeInstance } from '../../../src/model/instance';

describe('decodeInstance', () => {
  test.each([
    ['ProxyMgr', { address: '10.0.0.1', port: 8080 }, { address: '10.0.0.1', port: 8080 }],
    ['Nerve', { host: 'App-1.Example', port: 80, name: 'i-123', weight: 5 }, { address: 'app-1.example', port: 80, weight: 5 }],
    ['Finagle serverset', { serviceEndpoint: { host: '10.0.0.2', port: 9000 }, additionalEndpoints: {}, status: 'ALIVE' }, { address: '10.0.0.2', port: 9000 }],
    ['IPv6', { address: '0:0::1', port: 1 }, { address: '::1', port: 1 }],
  ])('%s', (_label, data, expected) => {
    expect(decodeInstance(Buffer.from(JSON.stringify(data)))).toEqual({ ok: true, value: expected });
  });

  describe('serverset member status', () => {
    const member = (extra: Record<string, unknown>) => Buffer.from(JSON.stringify({ serviceEndpoint: { host: '10.0.0.2', port: 9000 }, additionalEndpoints: {}, ...extra }));

    test.each([['absent', {}], ['ALIVE', { status: 'ALIVE' }], ['null (unset)', { status: null }]])('counts when status is %s', (_label, extra) => {
      expect(decodeInstance(member(extra))).toEqual({ ok: true, value: { address: '10.0.0.2', port: 9000 } });
    });

    test.each(['DEAD', 'STARTING', 'STOPPING', 'STOPPED', 'WARNING', 'UNKNOWN', 'alive'])('leaves out status %s, saying which', (status) => {
      expect(decodeInstance(member({ status }))).toEqual({ ok: false, status, error: `status ${status} (not ALIVE)` });
    });

    test('a status that is not a string is not ALIVE', () => {
      expect(decodeInstance(member({ status: 2 }))).toEqual({ ok: false, status: '2', error: 'status 2 (not ALIVE)' });
    });

    test('a malformed member is invalid whatever its status', () => {
      expect(decodeInstance(Buffer.from(JSON.stringify({ serviceEndpoint: { host: '10.0.0.2' }, status: 'DEAD' })))).toEqual({ ok: false, error: 'invalid or missing port: undefined' });
    });

    test('ProxyMgr and Nerve data have no status field: a "status" key there is ignored', () => {
      expect(decodeInstance(Buffer.from(JSON.stringify({ address: '10.0.0.1', port: 80, status: 'DEAD' })))).toEqual({ ok: true, value: { address: '10.0.0.1', port: 80 } });
      expect(decodeInstance(Buffer.from(JSON.stringify({ host: '10.0.0.1', port: 80, name: 'n', status: 'DEAD' })))).toEqual({ ok: true, value: { address: '10.0.0.1', port: 80 } });
    });
  });

  test('a plain host:port [weight] string', () => {
    expect(decodeInstance(Buffer.from('10.0.0.3:81 2\n'))).toEqual({ ok: true, value: { address: '10.0.0.3', port: 81, weight: 2 } });
  });

  test.each([
    ['empty', '', 'empty data'],
    ['array', '[1]', 'expected a JSON object'],
    ['no host', '{"port": 80}', 'invalid or missing address/host: undefined'],
    ['bad host', '{"host": "a b", "port": 80}', 'invalid or missing address/host: "a b"'],
    ['port 0', '{"host": "h", "port": 0}', 'invalid or missing port: 0'],
    ['port string', '{"host": "h", "port": "80"}', 'invalid or missing port: "80"'],
    ['weight 300', '{"host": "h", "port": 80, "weight": 300}', 'invalid weight: 300'],
    ['newline in host', '{"host": "h\\nx", "port": 80}', 'invalid or missing address/host: "h\\nx"'],
  ])('rejects %s', (_label, text, error) => {
    expect(decodeInstance(Buffer.from(text))).toEqual({ ok: false, error });
  });

  describe('unix sockets', () => {
    const sock = (extra: object = {}) => ({ address: 'unix:/run/app.sock', port: 0, ...extra });
    test.each<[string, string, object]>([
      ['ProxyMgr', '{"address": "unix:/run/app.sock"}', sock()],
      ['ProxyMgr with weight', '{"address": "unix:/run/app.sock", "weight": 5}', sock({ weight: 5 })],
      ['ProxyMgr, port null', '{"address": "unix:/run/app.sock", "port": null}', sock()],
      ['Nerve', '{"host": "unix:/run/app.sock", "name": "i-1", "weight": 2}', sock({ weight: 2 })],
      ['serverset', '{"serviceEndpoint": {"host": "unix:/run/app.sock"}, "status": "ALIVE"}', sock()],
      ['plain string', 'unix:/run/app.sock', sock()],
      ['plain string with weight', 'unix:/run/app.sock 3\n', sock({ weight: 3 })],
    ])('%s', (_label, text, expected) => {
      expect(decodeInstance(Buffer.from(text))).toEqual({ ok: true, value: expected });
    });

    test.each([
      ['a port', '{"address": "unix:/run/app.sock", "port": 80}', 'a unix socket address takes no port, got port 80'],
      ['a relative path', '{"address": "unix:run/app.sock"}', 'invalid address "unix:run/app.sock": the socket path must be absolute (unix:/absolute/path)'],
      ['a path not normalised', '{"address": "unix:/run/../app.sock"}', 'invalid address "unix:/run/../app.sock": the socket path must be normalised (no //, /./, /../ or trailing /)'],
      ['a bad weight', '{"address": "unix:/run/app.sock", "weight": -1}', 'invalid weight: -1'],
      ['a plain string with a port', 'unix:/run/app.sock:80', 'invalid unix socket address "unix:/run/app.sock:80": the socket path must not contain ":" (a unix socket server takes no port)'],
    ])('rejects %s', (_label, text, error) => {
      expect(decodeInstance(Buffer.from(text))).toEqual({ ok: false, error });
    });

    test('a serverset member not ALIVE is left out', () => {
      expect(decodeInstance(Buffer.from('{"serviceEndpoint": {"host": "unix:/run/app.sock"}, "status": "DEAD"}'))).toEqual({ ok: false, status: 'DEAD', error: 'status DEAD (not ALIVE)' });
    });
  });
});
