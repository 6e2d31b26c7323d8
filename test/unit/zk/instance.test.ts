import { decodeInstance } from '../../../src/zk/instance';

describe('decodeInstance', () => {
  test.each([
    ['ProxyMgr', { address: '10.0.0.1', port: 8080 }, { address: '10.0.0.1', port: 8080 }],
    ['Nerve', { host: 'App-1.Example', port: 80, name: 'i-123', weight: 5 }, { address: 'app-1.example', port: 80, weight: 5 }],
    ['Finagle serverset', { serviceEndpoint: { host: '10.0.0.2', port: 9000 }, additionalEndpoints: {}, status: 'ALIVE' }, { address: '10.0.0.2', port: 9000 }],
    ['IPv6', { address: '0:0::1', port: 1 }, { address: '::1', port: 1 }],
  ])('%s', (_label, data, expected) => {
    expect(decodeInstance(Buffer.from(JSON.stringify(data)))).toEqual({ ok: true, value: expected });
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
});
