import { compileProxyOptions } from '../../../../src/model/proxy-options';
import { errorsOf } from './helpers';

describe('fail_fast', () => {
  const marks = 'observe layer4 error-limit 1 on-error mark-down';
  test.each([
    ['alone: checks on (they bring a server back)', { fail_fast: true }, [`check ${marks}`]],
    ['with check: one check token', { fail_fast: true, check: { interval_ms: 1000 } }, [`check inter 1000ms ${marks}`]],
    ['with offline_timeout_ms: one check token', { fail_fast: true, offline_timeout_ms: 5000 }, [`check downinter 5000ms ${marks}`]],
  ])('%s', (_, o, server) => {
    const c = compileProxyOptions(o);
    expect(c.server).toEqual(server);
    expect(c.listen.slice(-2)).toEqual(['option redispatch 1', 'retries 1']);
  });

  test('false or unset renders nothing', () => {
    expect(compileProxyOptions({ fail_fast: false })).toEqual({ listen: [], server: [], sections: [] });
  });

  test('works in TCP mode too (layer 4 observation)', () => {
    expect(errorsOf({ mode: 'tcp', fail_fast: true })).toEqual([]);
    expect(errorsOf({ fail_fast: true, check: { rise: 2 } })).toEqual([]);
  });

  test.each([
    [{ fail_fast: true, attempts: 3 }, /fail_fast: not together with attempts/],
    [{ fail_fast: 'yes' }, /fail_fast: must be true or false/],
  ])('%j is refused, naming the key', (extra, message) => {
    expect(errorsOf(extra).join('\n')).toMatch(message);
  });

  test('attempts alone keeps its own tokens', () => {
    expect(errorsOf({ fail_fast: false, attempts: 3 })).toEqual([]);
  });
});
