import { compileProxyOptions } from '../../../src/model/proxy-options';
import { parseServiceDefinition } from '../../../src/model/service';
import { WATCHER_SCHEMAS } from '../../../src/watchers';

describe('compileProxyOptions', () => {
  test('nothing asked, nothing rendered (haproxy.defaults apply)', () => {
    expect(compileProxyOptions({})).toEqual({ listen: [], server: [], sections: [] });
  });

  test('every key, in a fixed order', () => {
    expect(
      compileProxyOptions({
        mode: 'http',
        balance: 'leastconn',
        maxconn: 500,
        timeouts: { connect_ms: 1000, client_ms: 30000, server_ms: 30000, queue_ms: 2000, check_ms: 500 },
        check: { interval_ms: 2000, rise: 2, fall: 3, http_path: '/health', expect_status: 204 },
        attempts: 3,
        offline_timeout_ms: 10000,
        server_maxconn: 50,
      }),
    ).toEqual({
      listen: [
        'mode http',
        'balance leastconn',
        'maxconn 500',
        'timeout connect 1000ms',
        'timeout client 30000ms',
        'timeout server 30000ms',
        'timeout queue 2000ms',
        'timeout check 500ms',
        'option httpchk GET /health',
        'http-check expect status 204',
        'retries 3',
      ],
      server: ['check inter 2000ms rise 2 fall 3 observe layer4 error-limit 3 on-error mark-down downinter 10000ms maxconn 50'],
      sections: [],
    });
  });

  test('source hashing is made consistent, so servers can still be added at runtime', () => {
    expect(compileProxyOptions({ balance: 'source' }).listen).toEqual(['balance source', 'hash-type consistent']);
  });

  test('the availability knobs turn checks on (a server marked down comes back only through one)', () => {
    expect(compileProxyOptions({ attempts: 2 }).server).toEqual(['check observe layer4 error-limit 2 on-error mark-down']);
    expect(compileProxyOptions({ offline_timeout_ms: 5000 }).server).toEqual(['check downinter 5000ms']);
  });

  test('an expected status without a path checks /', () => {
    expect(compileProxyOptions({ check: { expect_status: 200 } }).listen).toEqual(['option httpchk GET /', 'http-check expect status 200']);
  });
});

describe('typed keys in a service blob', () => {
  const parse = (extra: Record<string, unknown>) => parseServiceDefinition('web', { type: 'static', port: 8080, servers: ['10.0.0.1:80'], ...extra }, WATCHER_SCHEMAS);

  test('come before the blob\'s own option lines, which stay the escape hatch', () => {
    const r = parse({ balance: 'first', listen_options: ['option dontlognull'], server_options: ['slowstart 10s'], check: {} });
    expect(r.ok && [r.service.listenOptions, r.service.serverOptions]).toEqual([['balance first', 'option dontlognull'], ['check', 'slowstart 10s']]);
  });

  test.each([
    [{ mode: 'udp' }, /mode: must be tcp or http/],
    [{ balance: 'static-rr' }, /balance: must be one of/],
    [{ check: { interval_ms: 0 } }, /check\.interval_ms: must be at least 1 ms/],
    [{ check: { http_path: '/a b' } }, /check\.http_path: must start with \//],
    [{ check: { http_path: '/health#x' } }, /check\.http_path: must start with \/ and hold no spaces, control characters, #/],
    [{ check: { http_path: '/x\nlisten evil' } }, /check\.http_path/],
    [{ check: { expect_status: 700 } }, /check\.expect_status: must be an HTTP status/],
    [{ check: { bogus: 1 } }, /check: .*bogus/i],
    [{ attempts: 0 }, /attempts: must be 1\.\.100/],
    [{ timeouts: { client_ms: 1.5 } }, /timeouts\.client_ms: must be an integer/],
    [{ maxconn: -1 }, /maxconn: must be 1\.\.1000000/],
  ])('%j is refused, naming the key', (extra, message) => {
    const r = parse(extra);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(message);
  });
});

describe('match', () => {
  const parse = (extra: Record<string, unknown>) => parseServiceDefinition('api', { type: 'static', port: 8080, servers: ['10.0.0.1:80'], ...extra }, WATCHER_SCHEMAS);

  test('needs mode http', () => {
    const r = parse({ match: { path_prefix: ['/api'] } });
    expect(r.ok ? [] : r.errors).toEqual(['match: needs "mode": "http"']);
  });

  test('hosts are lowercased; an empty match or a bad entry is refused, naming it', () => {
    const r = parse({ mode: 'http', match: { host: ['API.Example.com'] } });
    expect(r.ok && r.service.match).toEqual({ host: ['api.example.com'] });
    for (const [match, message] of [
      [{}, /match: must name at least one/],
      [{ path_prefix: ['api'] }, /match\.path_prefix\[0\]: must start with \//],
      [{ path_prefix: ['/a b'] }, /match\.path_prefix\[0\]/],
      [{ host: ['bad host'] }, /match\.host\[0\]: must be a host name/],
      [{ path: ['/x'] }, /match: .*path/i],
    ] as const) {
      const bad = parse({ mode: 'http', match });
      expect(bad.ok ? '' : bad.errors.join('\n')).toMatch(message);
    }
  });
});
