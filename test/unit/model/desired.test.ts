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
      { name: 'mid', port: 80, holder: 'alpha' },
      { name: 'zeta', port: 80, holder: 'alpha' },
    ]);
  });

  test('a running service keeps its port even though it sorts later', () => {
    const r = assignPorts([svc('alpha', 80), svc('zeta', 80)], new Map([['zeta', 80]]));
    expect(names(r)).toEqual(['zeta']);
    expect(r.conflicts).toEqual([{ name: 'alpha', port: 80, holder: 'zeta' }]);
  });

  test('a running service that moved to another port does not hold its old one', () => {
    const r = assignPorts([svc('alpha', 80), svc('zeta', 80)], new Map([['zeta', 90]]));
    expect(names(r)).toEqual(['alpha']);
    expect(r.conflicts).toEqual([{ name: 'zeta', port: 80, holder: 'alpha' }]);
  });

  test('conflicts on one port do not affect other ports', () => {
    const r = assignPorts([svc('a', 80), svc('b', 80), svc('c', 81)], new Map([['b', 80]]));
    expect(names(r)).toEqual(['b', 'c']);
    expect(r.conflicts).toEqual([{ name: 'a', port: 80, holder: 'b' }]);
  });

  test('does not reorder its input', () => {
    const input = [svc('b', 1), svc('a', 2)];
    assignPorts(input, new Map());
    expect(input.map((s) => s.name)).toEqual(['b', 'a']);
  });
});
