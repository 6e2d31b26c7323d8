import { describeCheck, observe, offlineNote, phaseOf, type CheckReading, type StickyMemory } from '../../../src/plan/sticky-offline';

const up: CheckReading = { status: 'UP', checkStatus: 'L4OK', checkText: '', chkfail: 0, chkdown: 0 };
const read = (r: Partial<CheckReading>): CheckReading => ({ ...up, ...r });
const proven = (chkfail = 0, chkdown = 0): StickyMemory => ({ proven: true, chkfail, chkdown });
const unproven = (chkfail = 0, chkdown = 0): StickyMemory => ({ proven: false, chkfail, chkdown });

describe('phaseOf: HAProxy status column', () => {
  test.each([
    ['UP', 'up'],
    ['UP 1/3', 'up'],
    ['DRAIN', 'up'],
    ['NOLB', 'up'],
    ['DOWN', 'down'],
    ['DOWN 1/2', 'down'],
    ['DOWN (agent)', 'down'],
    ['MAINT', 'maint'],
    ['MAINT (via web/a)', 'maint'],
    ['MAINT (resolution)', 'maint'],
    ['no check', 'other'],
    ['', 'other'],
  ])('%j is %s', (status, phase) => expect(phaseOf(status)).toBe(phase));
});

describe('observe: which readings take a sticky_offline server out', () => {
  const L4CON = { checkStatus: 'L4CON', checkText: 'Connection refused' };
  test.each<[string, StickyMemory | undefined, CheckReading, boolean, StickyMemory, string | undefined]>([
    // [case, memory, reading, held, memory after, offline]
    ['first reading of a process, up and passing: proven, nothing done', undefined, up, false, proven(), undefined],
    ['first reading of a process, down (restored down, or failed before the first reading): not news', undefined, read({ status: 'DOWN', ...L4CON, chkdown: 1, chkfail: 1 }), false, unproven(1, 1), undefined],
    ['new server not checked yet (UP, INI) is not proven', undefined, read({ checkStatus: 'INI', checkText: 'Initializing' }), false, unproven(), undefined],
    ['new server, never passed, then down: not taken out', unproven(), read({ status: 'DOWN', ...L4CON, chkdown: 1, chkfail: 1 }), false, unproven(1, 1), undefined],
    ['proven, now down by its check: out', proven(), read({ status: 'DOWN', ...L4CON, chkdown: 1, chkfail: 1 }), false, unproven(1, 1), 'L4CON Connection refused'],
    ['proven, now DOWN 1/2 (recovering, still down): out', proven(3, 2), read({ status: 'DOWN 1/2', checkStatus: 'L7OK', checkText: '', chkdown: 3, chkfail: 4 }), false, unproven(4, 3), 'L7OK'],
    ['proven, UP 1/3 (failing, not yet down): stays proven', proven(), read({ status: 'UP 1/3', ...L4CON, chkfail: 1 }), false, proven(1, 0), undefined],
    ['proven, down and back up between readings (chkdown and chkfail moved): out', proven(2, 1), read({ chkfail: 3, chkdown: 2 }), false, unproven(3, 2), 'down and back up between two readings'],
    ["proven, an operator's maint and ready between readings (chkdown moved, chkfail not): stays", proven(2, 1), read({ chkdown: 2, chkfail: 2 }), false, proven(2, 2), undefined],
    ['proven, a failed check that did not take it down (chkfail moved only): stays', proven(2, 1), read({ chkfail: 3, chkdown: 1 }), false, proven(3, 1), undefined],
    ['proven, in maint (an operator, via the CLI or a tracked server): no, and no longer proven', proven(), read({ status: 'MAINT', checkStatus: '', chkdown: 1 }), false, unproven(0, 1), undefined],
    ['proven, now down, but already held (operator drain/maint or an earlier sticky): nothing', proven(), read({ status: 'DOWN', ...L4CON, chkdown: 1, chkfail: 1 }), true, unproven(1, 1), undefined],
    ['held and up: not proven (must pass again once released)', proven(), up, true, unproven(), undefined],
    ['released while still failing (UP, stale L4CON): not proven', unproven(1, 2), read({ ...L4CON, chkdown: 2, chkfail: 1 }), false, unproven(1, 2), undefined],
    ['released, then down: not taken out again', unproven(1, 2), read({ status: 'DOWN', ...L4CON, chkdown: 3, chkfail: 2 }), false, unproven(2, 3), undefined],
    ['released, a check passed: proven again', unproven(1, 2), read({ chkdown: 2, chkfail: 1 }), false, proven(1, 2), undefined],
    ['check in progress marker (`* L7OK`) counts as passed', undefined, read({ checkStatus: '* L7OK' }), false, proven(), undefined],
    ['L7OKC (conditionally passed) counts as passed', undefined, read({ checkStatus: 'L7OKC' }), false, proven(), undefined],
    ['drain (op state up) with a passing check: proven', undefined, read({ status: 'DRAIN' }), false, proven(), undefined],
    ['no check: never proven', undefined, read({ status: 'no check', checkStatus: '' }), false, unproven(), undefined],
    ['counters reset in the same process (clear counters): no false alarm', proven(5, 4), read({ chkdown: 0, chkfail: 0 }), false, proven(0, 0), undefined],
  ])('%s', (_case, memory, reading, held, after, offline) => {
    const r = observe(memory, reading, held);
    expect(r.memory).toEqual(after);
    expect(r.offline).toBe(offline);
  });
});

describe('describeCheck and offlineNote', () => {
  test.each([
    [{ checkStatus: 'L4CON', checkText: 'Connection refused' }, 'L4CON Connection refused'],
    [{ checkStatus: '* L7STS', checkText: 'HTTP status check returned code <503>' }, 'L7STS HTTP status check returned code <503>'],
    [{ checkStatus: 'L4TOUT', checkText: 'line\nbreak\x07' }, 'L4TOUT line break'],
    [{ checkStatus: '', checkText: '' }, 'health check failed'],
  ])('%j -> %s', (r, text) => expect(describeCheck(r)).toBe(text));

  test.each<[{ state?: string; reason?: string; at?: string; check?: string } | undefined, string | undefined]>([
    [undefined, undefined],
    [{ state: 'maint' }, undefined],
    [{ reason: 'sticky_offline', at: '2026-05-04T13:14:15.000Z', check: 'L4CON Connection refused' }, 'offline since 2026-05-04 13:14 UTC: health check failed (L4CON Connection refused); set ready to bring it back'],
    [{ reason: 'sticky_offline' }, 'offline: health check failed (no detail); set ready to bring it back'],
    [{ reason: 'sticky_offline', at: 'garbage', check: 'x' }, 'offline: health check failed (x); set ready to bring it back'],
  ])('%j -> %s', (o, note) => expect(offlineNote(o)).toBe(note));
});
