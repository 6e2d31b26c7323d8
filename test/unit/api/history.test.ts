import { DAY_POINTS, DAY_STEP_MS, ENTITY_BYTES, HistoryStore, HOUR_POINTS, HOUR_STEP_MS, PER_DAY_POINT, type Point } from '../../../src/api/history';

const T0 = 1_800_000_000_000; // a multiple of the day step
const at = (step: number) => T0 + step * HOUR_STEP_MS + 1000;

describe('HistoryStore', () => {
  test('the size of one entity is stated: 7,776 bytes', () => {
    expect(ENTITY_BYTES).toBe(7776);
    expect(HOUR_POINTS * HOUR_STEP_MS).toBe(3_600_000);
    expect(DAY_POINTS * DAY_STEP_MS).toBe(86_400_000);
  });

  test('points in order, with the time of the first; an entity added later is unknown before', () => {
    const h = new HistoryStore();
    h.keep('a');
    h.record(at(0), () => [1, 2, 0]);
    h.keep('b');
    h.record(at(1), (k) => (k === 'a' ? [3, 4, 1] : [5, 6, 0]));
    expect(h.series('a')!.hour).toEqual({ start: T0, step_ms: HOUR_STEP_MS, rate: [1, 3], sessions: [2, 4], errors: [0, 1] });
    expect(h.series('b')!.hour.rate).toEqual([null, 5]);
    expect(h.series('c')).toBeUndefined();
  });

  test('a skipped step is a gap, not a zero; a repeated step is ignored', () => {
    const h = new HistoryStore();
    h.keep('a');
    h.record(at(0), () => [1, 1, 1]);
    h.record(at(0) + 500, () => [9, 9, 9]);
    h.record(at(3), () => [2, 2, 2]);
    expect(h.series('a')!.hour.rate).toEqual([1, null, null, 2]);
  });

  test('the hour ring keeps the last 360 points', () => {
    const h = new HistoryStore();
    h.keep('a');
    for (let s = 0; s < 400; s++) h.record(at(s), () => [s, 0, 0]);
    const hour = h.series('a')!.hour;
    expect(hour.rate).toHaveLength(HOUR_POINTS);
    expect(hour.rate[0]).toBe(40);
    expect(hour.start).toBe(T0 + 40 * HOUR_STEP_MS);
  });

  test('a day point per 5 minutes: mean rate, highest sessions, sum of errors; unknown steps left out', () => {
    const h = new HistoryStore();
    h.keep('a');
    for (let s = 0; s < 2 * PER_DAY_POINT; s++) {
      const p: Point | undefined = s === 5 ? undefined : [s < PER_DAY_POINT ? 2 : 4, s % 7, 1];
      h.record(at(s), () => p);
    }
    const day = h.series('a')!.day;
    expect(day.start).toBe(T0);
    expect(day.rate).toEqual([2, 4]);
    expect(day.sessions).toEqual([6, 6]);
    expect(day.errors).toEqual([29, 30]);
  });

  test('a gap longer than both rings clears them', () => {
    const h = new HistoryStore();
    h.keep('a');
    h.record(at(0), () => [1, 1, 1]);
    h.record(at(HOUR_POINTS + DAY_POINTS * PER_DAY_POINT + 10), () => [2, 2, 2]);
    const s = h.series('a')!;
    expect(s.hour.rate.filter((v) => v !== null)).toEqual([2]);
    expect(s.day.rate.every((v) => v === null)).toBe(true);
  });

  test('at the limit, the entity idle the longest gives its rings up', () => {
    const h = new HistoryStore(2);
    h.keep('a');
    h.keep('b');
    h.touch('a');
    h.keep('c');
    expect([...h.keys()].sort()).toEqual(['a', 'c']);
    expect(new HistoryStore(0).keep('x')).toBe(false);
  });
});
