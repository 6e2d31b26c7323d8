import { describeChanges, summarizeChanges, type ChangeSummary } from '../../../src/model/changes';
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
