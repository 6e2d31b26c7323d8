import { serviceRates, withRates, type LiveServer } from '../../../src/api/live-stats';

const srv = (sessions_total: number): LiveServer => ({
  status: 'UP',
  sessions_current: 0,
  sessions_total,
  bytes_in: 0,
  bytes_out: 0,
  connection_errors: 0,
  response_errors: 0,
});

describe('withRates', () => {
  test('sessions per second from two readings', () => {
    const out = withRates(new Map([['web/a', srv(100)]]), new Map([['web/a', srv(130)]]), 2);
    expect(out.get('web/a')?.rate).toBe(15);
  });

  test('a server seen for the first time has no rate yet, not its lifetime total', () => {
    expect(withRates(new Map(), new Map([['web/a', srv(5000)]]), 1).get('web/a')?.rate).toBe(0);
  });

  test('a counter that went down was reset by a reload: its new value is what happened since', () => {
    expect(withRates(new Map([['web/a', srv(900)]]), new Map([['web/a', srv(20)]]), 2).get('web/a')?.rate).toBe(10);
  });

  test('no elapsed time gives 0, not a division by zero', () => {
    expect(withRates(new Map([['web/a', srv(1)]]), new Map([['web/a', srv(9)]]), 0).get('web/a')?.rate).toBe(0);
  });
});

describe('serviceRates', () => {
  test('sums by the backend part of the key, which may itself contain dots and dashes', () => {
    const servers = withRates(
      new Map([['web/a', srv(0)], ['web/b', srv(0)], ['api.v2/10.0.0.1:80', srv(0)]]),
      new Map([['web/a', srv(3)], ['web/b', srv(4)], ['api.v2/10.0.0.1:80', srv(1)]]),
      1,
    );
    expect(serviceRates(servers)).toEqual(new Map([['web', 7], ['api.v2', 1]]));
  });
});
