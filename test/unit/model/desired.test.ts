import { assignPorts, type DesiredService } from '../../../src/model/desired';

const svc = (name: string, port: number): DesiredService => ({
  name,
  listen: { port, listenOptions: [], serverOptions: [] },
  servers: [],
});

const names = (r: ReturnType<typeof assignPorts>) => r.services.map((s) => s.name);

describe('assignPorts', () => {
  test('distinct ports: all kept, sorted by name', () => {
    const r = assignPorts([svc('b', 81), svc('a', 80)], new Map());
    expect(names(r)).toEqual(['a', 'b']);
    expect(r.conflicts).toEqual([]);
  });

  test('nothing running: the first name wins, the conflict names the holder', () => {
    const r = assignPorts([svc('zeta', 80), svc('alpha', 80), svc('mid', 80)], new Map());
    expect(names(r)).toEqual(['alpha']);
    expect(r.conflicts).toEqual([
      { name: 'mid', port: 80, holder: 'alpha', reason: 'taken' },
      { name: 'zeta', port: 80, holder: 'alpha', reason: 'taken' },
    ]);
  });

  test('a running service keeps its port even though it sorts later', () => {
    const r = assignPorts([svc('alpha', 80), svc('zeta', 80)], new Map([['zeta', 80]]));
    expect(names(r)).toEqual(['zeta']);
    expect(r.conflicts).toEqual([{ name: 'alpha', port: 80, holder: 'zeta', reason: 'taken' }]);
  });

  test('a running service that moved to another port does not hold its old one', () => {
    const r = assignPorts([svc('alpha', 80), svc('zeta', 80)], new Map([['zeta', 90]]));
    expect(names(r)).toEqual(['alpha']);
    expect(r.conflicts).toEqual([{ name: 'zeta', port: 80, holder: 'alpha', reason: 'taken' }]);
  });

  test('conflicts on one port do not affect other ports', () => {
    const r = assignPorts([svc('a', 80), svc('b', 80), svc('c', 81)], new Map([['b', 80]]));
    expect(names(r)).toEqual(['b', 'c']);
    expect(r.conflicts).toEqual([{ name: 'a', port: 80, holder: 'b', reason: 'taken' }]);
  });

  test('does not reorder its input', () => {
    const input = [svc('b', 1), svc('a', 2)];
    assignPorts(input, new Map());
    expect(input.map((s) => s.name)).toEqual(['b', 'a']);
  });
});

describe('assignPorts: shared HTTP ports', () => {
  const http = (name: string, port: number, match?: { path_prefix?: string[]; host?: string[] }): DesiredService => ({
    name,
    listen: { port, listenOptions: [], serverOptions: [], mode: 'http', ...(match && { match }) },
    servers: [],
  });

  test('mode http services share a port: one default, the others routed by match', () => {
    const r = assignPorts([http('web', 80), http('api', 80, { path_prefix: ['/api'] }), http('img', 80, { host: ['img.example'] })], new Map());
    expect(r.services.map((s) => s.name)).toEqual(['api', 'img', 'web']);
    expect(r.conflicts).toEqual([]);
  });

  test('a second default is refused, naming the service that is the default', () => {
    const r = assignPorts([http('web', 80), http('www', 80)], new Map());
    expect(r.conflicts).toEqual([{ name: 'www', port: 80, holder: 'web', reason: 'two-defaults' }]);
  });

  test('the running default keeps the port even though it sorts later', () => {
    const r = assignPorts([http('aaa', 80), http('web', 80)], new Map([['web', 80]]));
    expect(r.conflicts).toEqual([{ name: 'aaa', port: 80, holder: 'web', reason: 'two-defaults' }]);
  });

  test('tcp and http on one port: the later one is refused, naming the holder', () => {
    const tcp: DesiredService = { name: 'db', listen: { port: 80, listenOptions: [], serverOptions: [] }, servers: [] };
    expect(assignPorts([tcp, http('web', 80, { path_prefix: ['/'] })], new Map()).conflicts).toEqual([{ name: 'web', port: 80, holder: 'db', reason: 'taken' }]);
    expect(assignPorts([http('api', 80, { path_prefix: ['/api'] }), { ...tcp, name: 'zz' }], new Map()).conflicts).toEqual([{ name: 'zz', port: 80, holder: 'api', reason: 'taken' }]);
  });
});
