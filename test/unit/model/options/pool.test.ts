import { compileProxyOptions } from '../../../../src/model/proxy-options';
import { errorsOf } from './helpers';

describe('pool', () => {
  test.each([
    [{}, ['http-reuse always', 'option http-keep-alive'], []],
    [{ reuse: 'aggressive' }, ['http-reuse aggressive', 'option http-keep-alive'], []],
    [{ reuse: 'safe' }, ['http-reuse safe', 'option http-keep-alive'], []],
    [{ reuse: 'always', max_conn: 20 }, ['http-reuse always', 'option http-keep-alive'], ['pool-max-conn 20']],
    [{ max_conn: 5, idle_timeout_ms: 30000 }, ['http-reuse always', 'option http-keep-alive'], ['pool-max-conn 5 pool-purge-delay 30000ms']],
  ])('%j renders its proxy lines and server tokens', (pool, listen, server) => {
    expect(compileProxyOptions({ mode: 'http', pool })).toEqual({ listen: ['mode http', ...listen], server, sections: [] });
  });

  test('nothing asked, nothing rendered', () => {
    expect(compileProxyOptions({ mode: 'http' }).listen).toEqual(['mode http']);
  });

  test('a sound blob parses', () => {
    expect(errorsOf({ mode: 'http', pool: { reuse: 'always', max_conn: 100, idle_timeout_ms: 5000 } })).toEqual([]);
  });

  test.each([
    [{ pool: {} }, /pool: needs "mode": "http"/],
    [{ mode: 'tcp', pool: { reuse: 'always' } }, /pool: needs "mode": "http"/],
    [{ mode: 'http', pool: { reuse: 'never' } }, /pool\.reuse: must be safe, aggressive or always/],
    [{ mode: 'http', pool: { max_conn: 0 } }, /pool\.max_conn: must be 1\.\.100000/],
    [{ mode: 'http', pool: { max_conn: 2.5 } }, /pool\.max_conn: must be an integer/],
    [{ mode: 'http', pool: { idle_timeout_ms: 3_600_001 } }, /pool\.idle_timeout_ms: must be at most an hour/],
    [{ mode: 'http', pool: { idle_timeout_ms: '5s' } }, /pool\.idle_timeout_ms/],
    [{ mode: 'http', pool: { size: 3 } }, /pool: .*size/i],
    [{ mode: 'http', pool: true }, /pool/],
  ])('%j is refused, naming the key', (extra, message) => {
    expect(errorsOf(extra).join('\n')).toMatch(message);
  });
});
