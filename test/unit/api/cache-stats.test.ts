import { cacheView, cachedServices, parseCacheCounts } from '../../../src/api/cache-stats';
import type { DesiredService } from '../../../src/model/desired';

// Columns in HAProxy's order, the cache ones far to the right as in 2.6.
const HEADER = '# pxname,svname,scur,status,type,req_tot,cache_lookups,cache_hits,mux_id';
const row = (...f: Array<string | number>) => f.join(',');

describe('parseCacheCounts', () => {
  test.each([
    ['a listen counts on its FRONTEND row', [row('web', 'FRONTEND', 1, 'OPEN', 0, 10, 1000, 999, ''), row('web', 'BACKEND', 0, 'UP', 1, 1, 0, 0, '')], { web: { lookups: 1000, hits: 999 } }],
    ['a backend behind a shared frontend on its BACKEND row', [row('shared', 'FRONTEND', 0, 'OPEN', 0, 5, 0, 0, ''), row('api', 'BACKEND', 0, 'UP', 1, 5, 5, 3, '')], { api: { lookups: 5, hits: 3 } }],
    ['both rows are added', [row('x', 'FRONTEND', 0, 'OPEN', 0, 2, 2, 1, ''), row('x', 'BACKEND', 0, 'UP', 1, 2, 3, 1, '')], { x: { lookups: 5, hits: 2 } }],
    ['servers, TCP proxies (empty columns) and idle caches are left out', [row('web', '10.0.0.1:80', 0, 'UP', 2, 3, '', '', ''), row('db', 'BACKEND', 0, 'UP', 1, '', '', '', ''), row('idle', 'FRONTEND', 0, 'OPEN', 0, 0, 0, 0, '')], {}],
    ['a server named like a proxy row of another length is a server', [row('web', 'BACKENDS', 0, 'UP', 2, 3, 9, 9, '')], {}],
    ['the last row without a newline', [row('web', 'FRONTEND', 0, 'OPEN', 0, 1, 7, 6)], { web: { lookups: 7, hits: 6 } }],
  ])('%s', (_, rows, want) => {
    expect(Object.fromEntries(parseCacheCounts([HEADER, ...rows].join('\n')))).toEqual(want);
    expect(Object.fromEntries(parseCacheCounts([HEADER, ...rows, ''].join('\n')))).toEqual(want);
  });

  test.each([['', ''], ['not a reply', 'Unknown command'], ['no cache columns', '# pxname,svname,scur\nweb,FRONTEND,1\n']])('%s: nothing', (_, text) => {
    expect(parseCacheCounts(text).size).toBe(0);
  });
});

describe('cachedServices and cacheView', () => {
  const svc = (name: string, kinds: Array<'cache' | 'fcgi-app'>): DesiredService => ({
    name,
    listen: { port: 1, listenOptions: [], serverOptions: [], sections: kinds.map((kind) => ({ kind, name, lines: [] })) },
    servers: [],
  });
  test('only the services that own a cache section', () => {
    expect(cachedServices([svc('a', ['cache']), svc('b', []), svc('c', ['fcgi-app']), svc('d', ['fcgi-app', 'cache'])])).toEqual(['a', 'd']);
  });
  test('misses are lookups without a hit; none yet is zeros', () => {
    expect(cacheView({ lookups: 10, hits: 7 })).toEqual({ lookups: 10, hits: 7, misses: 3 });
    expect(cacheView(undefined)).toEqual({ lookups: 0, hits: 0, misses: 0 });
  });
});
