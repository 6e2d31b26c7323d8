import { describeChanges, reloadReason, summarizeChanges, type ChangeSummary, type ReloadReason } from '../../../src/model/changes';
import type { DesiredService } from '../../../src/model/desired';
import type { Server } from '../../../src/model/server';

const base = (name: string, over: Partial<DesiredService['listen']> = {}, servers: Server[] = [{ address: '10.0.0.1', port: 80 }]): DesiredService => ({
  name,
  listen: { port: 8000, listenOptions: ['mode tcp'], serverOptions: ['check'], ...over },
  servers,
});

const empty: ChangeSummary = { added: [], removed: [], reconfigured: [], servers: [] };

describe('summarizeChanges', () => {
  test('no change', () => {
    expect(summarizeChanges([base('a'), base('b')], [base('b'), base('a')])).toEqual(empty);
  });

  test('added and removed, sorted', () => {
    expect(summarizeChanges([base('old'), base('keep')], [base('keep'), base('z'), base('new')])).toEqual({
      ...empty,
      added: ['new', 'z'],
      removed: ['old'],
    });
  });

  test.each<[string, Partial<DesiredService['listen']>]>([
    ['port', { port: 8001 }],
    ['listen options', { listenOptions: ['mode http'] }],
    ['server options', { serverOptions: ['check', 'inter 1s'] }],
    ['server options emptied', { serverOptions: [] }],
  ])('%s change -> reconfigured (even if servers changed too)', (_label, over) => {
    const after = base('a', over, [{ address: '10.0.0.2', port: 80 }]);
    expect(summarizeChanges([base('a')], [after])).toEqual({ ...empty, reconfigured: ['a'] });
  });

  test.each<[string, Server[]]>([
    ['server added', [{ address: '10.0.0.1', port: 80 }, { address: '10.0.0.2', port: 80 }]],
    ['server removed', []],
    ['weight changed', [{ address: '10.0.0.1', port: 80, weight: 3 }]],
  ])('%s -> servers only', (_label, servers) => {
    expect(summarizeChanges([base('a')], [base('a', {}, servers)])).toEqual({ ...empty, servers: ['a'] });
  });
});

describe('describeChanges', () => {
  test('no change', () => {
    expect(describeChanges(empty)).toBe('no service change');
  });

  test('lists non-empty categories in a fixed order', () => {
    expect(describeChanges({ added: ['web'], removed: [], reconfigured: ['x', 'y'], servers: ['api', 'db'] })).toBe(
      'added: web; reconfigured: x, y; servers: api, db',
    );
  });

  test('removed only', () => {
    expect(describeChanges({ ...empty, removed: ['gone'] })).toBe('removed: gone');
  });

  test('round trip from summarizeChanges', () => {
    const c = summarizeChanges([base('a'), base('b')], [base('b', { port: 1 }), base('c')]);
    expect(describeChanges(c)).toBe('added: c; removed: a; reconfigured: b');
  });
});

describe('reloadReason', () => {
  const c = (over: Partial<ChangeSummary> = {}): ChangeSummary => ({ ...empty, ...over });
  const reason = (o: { initial?: boolean; changes?: ChangeSummary; forced?: boolean; shapeChanged?: boolean }): ReloadReason =>
    reloadReason({ initial: false, changes: empty, forced: false, shapeChanged: false, ...o });
  const everything = c({ added: ['a'], removed: ['r'], reconfigured: ['x'], servers: ['s'] });

  test('initial beats everything', () => {
    expect(reason({ initial: true, changes: everything, forced: true, shapeChanged: true })).toBe('initial');
    expect(reason({ initial: true })).toBe('initial');
  });

  test('added beats removed, reconfigured, forced and servers', () => {
    expect(reason({ changes: everything, forced: true, shapeChanged: true })).toBe('service_added');
    expect(reason({ changes: c({ added: ['a'] }) })).toBe('service_added');
  });

  test('removed beats reconfigured and forced', () => {
    expect(reason({ changes: c({ removed: ['r'], reconfigured: ['x'], servers: ['s'] }), forced: true, shapeChanged: true })).toBe('service_removed');
    expect(reason({ changes: c({ removed: ['r'] }) })).toBe('service_removed');
  });

  test('reconfigured beats forced', () => {
    expect(reason({ changes: c({ reconfigured: ['x'], servers: ['s'] }), forced: true, shapeChanged: true })).toBe('service_reconfigured');
    expect(reason({ changes: c({ reconfigured: ['x'] }) })).toBe('service_reconfigured');
  });

  test('forced (runtime API fallback) beats servers and settings', () => {
    expect(reason({ changes: c({ servers: ['s'] }), forced: true, shapeChanged: true })).toBe('runtime_fallback');
    expect(reason({ forced: true })).toBe('runtime_fallback');
  });

  test('servers only when the config shape changed', () => {
    expect(reason({ changes: c({ servers: ['s'] }), shapeChanged: true })).toBe('servers');
    // Server changes without a shape change went through the runtime API; the reload had another cause.
    expect(reason({ changes: c({ servers: ['s'] }), shapeChanged: false })).toBe('haproxy_down');
  });

  test('settings when only the shape changed', () => {
    expect(reason({ shapeChanged: true })).toBe('settings');
  });

  test('nothing changed: HAProxy was down', () => {
    expect(reason({})).toBe('haproxy_down');
  });

  test('from a real summary', () => {
    const changes = summarizeChanges([base('a'), base('b')], [base('b', {}, []), base('c')]);
    expect(reason({ changes, forced: true })).toBe('service_added');
    const onlyRemoved = summarizeChanges([base('a'), base('b')], [base('b', {}, [])]);
    expect(reason({ changes: onlyRemoved, shapeChanged: true })).toBe('service_removed');
    const onlyServers = summarizeChanges([base('a')], [base('a', {}, [])]);
    expect(reason({ changes: onlyServers, shapeChanged: true })).toBe('servers');
  });
});
