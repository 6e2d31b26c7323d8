import { Quiescence, type QuiescenceOptions } from '../../../src/util/quiescence';

const QUIET = 100;
const MAX_WAIT = 1000;

/** Records the (fake) time at which each fire starts; fires resolve at once unless `hold` is set. */
function setup(opts: Partial<QuiescenceOptions> = {}) {
  const fired: number[] = [];
  let release: (() => void) | undefined;
  const state = { hold: false, running: 0, maxRunning: 0 };
  const q = new Quiescence(
    { quietMs: QUIET, maxWaitMs: MAX_WAIT, minIntervalMs: 0, ...opts },
    async () => {
      fired.push(Date.now());
      state.running++;
      state.maxRunning = Math.max(state.maxRunning, state.running);
      if (state.hold) await new Promise<void>((r) => (release = r));
      state.running--;
    },
    () => Date.now(),
  );
  return { q, fired, state, release: () => release?.() };
}

const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

beforeEach(() => jest.useFakeTimers({ now: 0 }));
afterEach(() => jest.useRealTimers());

describe('Quiescence', () => {
  test('fires once after the quiet period', async () => {
    const { q, fired } = setup();
    q.trigger();
    await advance(QUIET - 1);
    expect(fired).toEqual([]);
    await advance(1);
    expect(fired).toEqual([QUIET]);
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([QUIET]);
  });

  test('a burst of triggers fires once, a quiet period after the last', async () => {
    const { q, fired } = setup();
    for (let i = 0; i < 4; i++) {
      q.trigger();
      await advance(10);
    }
    // Last trigger at t=30.
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([30 + QUIET]);
  });

  test('a continuous stream of triggers every quietMs/2 still fires by maxWaitMs', async () => {
    const { q, fired } = setup();
    for (let t = 0; t < 2 * MAX_WAIT; t += QUIET / 2) {
      q.trigger();
      await advance(QUIET / 2);
    }
    expect(fired).toEqual([MAX_WAIT, 2 * MAX_WAIT]);
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([MAX_WAIT, 2 * MAX_WAIT]);
  });

  test('minIntervalMs spaces firings from the start of the previous one', async () => {
    const { q, fired } = setup({ minIntervalMs: 500 });
    q.trigger();
    await advance(150); // fired at 100
    q.trigger(); // quiet would allow 250; min interval says 600
    await advance(449);
    expect(fired).toEqual([100]);
    await advance(1);
    expect(fired).toEqual([100, 600]);
  });

  test('triggers during a running fire schedule exactly one more run, after it', async () => {
    const { q, fired, state, release } = setup();
    state.hold = true;
    q.trigger();
    await advance(QUIET); // first run starts at 100 and hangs
    expect(fired).toEqual([100]);
    for (let i = 0; i < 3; i++) {
      q.trigger();
      await advance(50);
    }
    await advance(1000);
    expect(fired).toEqual([100]); // nothing runs concurrently
    state.hold = false;
    release(); // run ends at t=1250
    await advance(QUIET);
    expect(fired).toEqual([100, 1250 + QUIET]);
    await advance(10 * MAX_WAIT);
    expect(fired).toHaveLength(2);
    expect(state.maxRunning).toBe(1);
  });

  test('close() cancels a pending fire and ignores later triggers', async () => {
    const { q, fired } = setup();
    q.trigger();
    await advance(QUIET / 2);
    q.close();
    q.trigger();
    q.flush();
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([]);
  });

  test('close() during a run drops the follow-up run', async () => {
    const { q, fired, state, release } = setup();
    state.hold = true;
    q.trigger();
    await advance(QUIET);
    q.trigger();
    q.close();
    release();
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([QUIET]);
  });

  test('flush() fires immediately, skipping the quiet period', async () => {
    const { q, fired } = setup();
    q.trigger();
    await advance(10);
    q.flush();
    await advance(0);
    expect(fired).toEqual([10]);
    await advance(10 * MAX_WAIT);
    expect(fired).toEqual([10]);
  });

  test('flush() with nothing pending still fires', async () => {
    const { q, fired } = setup();
    await advance(5);
    q.flush();
    await advance(0);
    expect(fired).toEqual([5]);
  });

  test('flush() during a running fire runs again right after it, without a quiet period', async () => {
    const { q, fired, state, release } = setup();
    state.hold = true;
    q.trigger();
    await advance(QUIET);
    expect(fired).toEqual([QUIET]);
    q.flush();
    await advance(100);
    state.hold = false;
    release();
    await advance(0);
    expect(fired).toEqual([QUIET, QUIET + 100]);
  });

  test('a fire that throws is reported and the timer keeps working', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const q = new Quiescence(
      { quietMs: QUIET, maxWaitMs: MAX_WAIT, minIntervalMs: 0 },
      async () => {
        calls++;
        if (calls === 1) throw new Error('disk full');
      },
      () => Date.now(),
      (err) => errors.push(err),
    );
    q.trigger();
    await advance(QUIET);
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk full']);
    q.trigger();
    await advance(QUIET);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
