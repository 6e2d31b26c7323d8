import { isStoppedState, parseProcStat, procState } from '../../../src/haproxy/proc';

describe('parseProcStat', () => {
  test('reads pid, comm, state and ppid of an ordinary line', () => {
    const line = '4242 (haproxy) S 4200 4242 4200 0 -1 4194560 1234 0 0 0 5 3 0 0 20 0 1 0 123456 12345678 2345 18446744073709551615';
    expect(parseProcStat(line)).toEqual({ pid: 4242, comm: 'haproxy', state: 'S', ppid: 4200 });
  });

  test('a stopped process reads state T', () => {
    expect(parseProcStat('7 (haproxy) T 1 7 7 0 -1 0\n')?.state).toBe('T');
  });

  test('a command name with spaces and parentheses does not shift the fields', () => {
    expect(parseProcStat('99 (my (odd) name) ) t 3 99 99 0 -1 0')).toEqual({ pid: 99, comm: 'my (odd) name) ', state: 't', ppid: 3 });
  });

  test('garbage is undefined, not a guess', () => {
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('no parens here')).toBeUndefined();
    expect(parseProcStat('12 (x)')).toBeUndefined();
    expect(parseProcStat('x (y) R 1')).toBeUndefined();
  });
});

describe('isStoppedState', () => {
  test('T and t are stopped; running, sleeping, disk sleep, zombie and unknown are not', () => {
    expect(isStoppedState('T')).toBe(true);
    expect(isStoppedState('t')).toBe(true);
    for (const s of ['R', 'S', 'D', 'Z', 'X', 'I', undefined]) expect(isStoppedState(s)).toBe(false);
  });
});

describe('procState', () => {
  test('this process is running or sleeping; a pid that does not exist is undefined', () => {
    expect(['R', 'S']).toContain(procState(process.pid));
    expect(procState(2 ** 22 + 12345)).toBeUndefined();
  });
});
