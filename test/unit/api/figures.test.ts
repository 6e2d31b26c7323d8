import { historyPoint, update, type Figures } from '../../../src/api/figures';
import type { StatRow } from '../../../src/api/stat-rows';

const row = (total: number, errors = 0, sessions = 0, status = 'UP'): StatRow => ({ proxy: 'web', name: 'a', status, sessions, total, errors, up: 0 });

describe('update', () => {
  test.each([
    ['a counter that grew: its rate', [100, 130], 2000, 15],
    ['a counter that went down was reset by a reload: its value is what happened since', [900, 20], 2000, 10],
    ['the same instant: the rate stays', [1, 9], 0, 0],
  ])('%s', (_name, [a, b], ms, rate) => {
    const m = new Map<string, Figures>();
    update(m, 'a', row(a), 1000);
    update(m, 'a', row(b), 1000 + ms);
    expect(m.get('a')!.rate).toBe(rate);
  });

  test('says whether what is shown changed', () => {
    const m = new Map<string, Figures>();
    expect(update(m, 'a', row(0), 0)).toBe(true);
    expect(update(m, 'a', row(0), 2000)).toBe(false);
    expect(update(m, 'a', row(0, 0, 0, 'DOWN'), 4000)).toBe(true);
    expect(update(m, 'a', row(0, 1, 0, 'DOWN'), 6000)).toBe(true);
  });
});

describe('historyPoint', () => {
  test('rate and errors over the step since the last history reading; the first has none', () => {
    const m = new Map<string, Figures>();
    update(m, 'a', row(100, 5, 2), 0);
    expect(historyPoint(m.get('a'), 0)).toEqual([NaN, 2, NaN]);
    update(m, 'a', row(150, 7, 3), 5000);
    update(m, 'a', row(200, 8, 4), 10_000);
    expect(historyPoint(m.get('a'), 10_000)).toEqual([10, 4, 3]);
    expect(historyPoint(undefined, 10_000)).toEqual([NaN, NaN, NaN]);
  });
});
