import { diff, serverRows, serviceRow } from '../../../src/api/dashboard-rows';
import type { ServiceStatus } from '../../../src/agent/service-table';

const status = (over: Partial<ServiceStatus> = {}): ServiceStatus => ({ name: 'web', origin: 'file', servers: 2, ok: true, problems: [], warnings: [], sourceUp: true, ...over });

describe('serviceRow', () => {
  test.each([
    ['ok', status(), 'ok'],
    ['a warning (source down within its grace) is degraded', status({ warnings: ['zk down'], sourceUp: false }), 'degraded'],
    ['a problem is an error, warning or not', status({ ok: false, problems: ['bad port'], warnings: ['x'] }), 'error'],
  ])('%s', (_n, s, health) => {
    expect(serviceRow(s).health).toBe(health);
  });
});

describe('serverRows', () => {
  test('the operator decision and HAProxy status per server; null while HAProxy does not run it', () => {
    const rows = serverRows(
      { name: 'web', listen: {} as never, servers: [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80, weight: 5, admin: 'drain' }] },
      (s) => (s === '10.0.0.2:80' ? { state: 'drain' } : undefined),
      new Map([['10.0.0.1:80', { status: 'UP' } as never]]),
    );
    expect(rows).toEqual([
      { name: '10.0.0.1:80', address: '10.0.0.1', port: 80, weight: 1, state: 'ready', override: null, haproxy: 'UP' },
      { name: '10.0.0.2:80', address: '10.0.0.2', port: 80, weight: 5, state: 'drain', override: { state: 'drain' }, haproxy: null },
    ]);
  });

  test('a unix socket server: its address as written, no port', () => {
    const rows = serverRows({ name: 'web', listen: {} as never, servers: [{ address: 'unix:/run/app.sock', port: 0, weight: 2 }] }, () => undefined, undefined);
    expect(rows).toEqual([{ name: 'unix_run:app.sock', address: 'unix:/run/app.sock', port: null, weight: 2, state: 'ready', override: null, haproxy: null }]);
  });
});

describe('diff', () => {
  test('only what changed, and what is gone; the record is brought up to date', () => {
    const sent = new Map<string, string>();
    expect(diff(sent, new Map([['a', { v: 1 }], ['b', { v: 2 }]]))).toEqual({ changed: [{ v: 1 }, { v: 2 }], removed: [] });
    expect(diff(sent, new Map([['a', { v: 1 }], ['b', { v: 3 }]]))).toEqual({ changed: [{ v: 3 }], removed: [] });
    expect(diff(sent, new Map([['b', { v: 3 }]]))).toEqual({ changed: [], removed: ['a'] });
    expect([...sent.keys()]).toEqual(['b']);
  });
});
