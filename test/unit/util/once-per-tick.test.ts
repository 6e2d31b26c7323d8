import { oncePerTick } from '../../../src/util/once-per-tick';

const nextTick = () => new Promise((r) => setImmediate(r));

describe('oncePerTick', () => {
  test('calls in one turn run the function once, on the next turn; a later turn runs it again', async () => {
    let runs = 0;
    const report = oncePerTick(() => runs++);
    report();
    report();
    report();
    expect(runs).toBe(0);
    await nextTick();
    expect(runs).toBe(1);
    report();
    await nextTick();
    expect(runs).toBe(2);
  });
});
