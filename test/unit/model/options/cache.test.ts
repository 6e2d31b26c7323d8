import { cacheName } from '../../../../src/model/options/cache';
import { compileProxyOptions } from '../../../../src/model/proxy-options';
import { errorsOf } from './helpers';

describe('cache', () => {
  test.each([
    [{ size_mb: 8 }, ['total-max-size 8']],
    [{ size_mb: 64, max_age_s: 300 }, ['total-max-size 64', 'max-age 300']],
    [{ size_mb: 1, max_age_s: 10, max_object_kb: 512 }, ['total-max-size 1', 'max-age 10', 'max-object-size 524288']],
  ])('%j renders its own section and the proxy lines that use it', (cache, lines) => {
    expect(compileProxyOptions({ mode: 'http', cache }, 'web')).toEqual({
      listen: ['mode http', 'http-request cache-use web', 'http-response cache-store web'],
      server: [],
      sections: [{ kind: 'cache', name: 'web', lines }],
    });
  });

  const long = `svc-${'a'.repeat(96)}`;
  test.each([
    ['web', 'web'],
    ['a'.repeat(32), 'a'.repeat(32)],
    [long, /^svc-a{19}~[0-9a-f]{8}$/],
  ])('the cache of %s is named to fit HAProxy (32 characters)', (service, name) => {
    const n = cacheName(service);
    expect(n.length).toBeLessThanOrEqual(32);
    if (typeof name === 'string') expect(n).toBe(name);
    else expect(n).toMatch(name);
  });

  test('long names that share their first 32 characters get different caches', () => {
    const a = `${'x'.repeat(40)}-a`;
    const b = `${'x'.repeat(40)}-b`;
    expect(cacheName(a)).not.toBe(cacheName(b));
    expect(cacheName(a)).toBe(cacheName(a));
    expect(cacheName(a)).not.toBe('x'.repeat(32));
  });

  test('a long service name parses and names its section and its lines alike', () => {
    expect(errorsOf({ mode: 'http', cache: { size_mb: 4 } }, long)).toEqual([]);
    const c = compileProxyOptions({ mode: 'http', cache: { size_mb: 4 } }, long);
    expect(c.listen).toContain(`http-request cache-use ${c.sections[0].name}`);
  });

  test.each([
    [{ cache: { size_mb: 4 } }, /cache: needs "mode": "http"/],
    [{ mode: 'http', cache: {} }, /cache\.size_mb/],
    [{ mode: 'http', cache: { size_mb: 0 } }, /cache\.size_mb: must be 1\.\.4095/],
    [{ mode: 'http', cache: { size_mb: 4096 } }, /cache\.size_mb: must be 1\.\.4095/],
    [{ mode: 'http', cache: { size_mb: 4, max_age_s: 0 } }, /cache\.max_age_s: must be 1\.\.31536000/],
    [{ mode: 'http', cache: { size_mb: 4, max_age_s: 1.5 } }, /cache\.max_age_s: must be an integer/],
    [{ mode: 'http', cache: { size_mb: 1, max_object_kb: 513 } }, /cache\.max_object_kb: must be at most half of size_mb \(512\)/],
    [{ mode: 'http', cache: { size_mb: 4, max_object_kb: 0 } }, /cache\.max_object_kb: must be at least 1/],
    [{ mode: 'http', cache: { size_mb: 4, vary: true } }, /cache: .*vary/i],
  ])('%j is refused, naming the key', (extra, message) => {
    expect(errorsOf(extra).join('\n')).toMatch(message);
  });
});
