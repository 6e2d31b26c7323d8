/**
 * `sticky_offline`: when a health check marks a server down, the agent holds it in maint
 * until an operator sets it ready. This is the pure decision, one server and one reading
 * of HAProxy's `show stat` at a time: does this reading show the check taking the server
 * down, as opposed to an operator's maint, a server not checked yet, or a new HAProxy?
 */

/** The fields of one `show stat` server row the decision reads. */
export interface CheckReading {
  /** HAProxy's status: UP, DOWN, MAINT, DRAIN, NOLB, `UP 1/3` (failing), `DOWN 1/2` (recovering), `no check`, ... */
  status: string;
  /** `check_status`: L4OK, L4CON, L7STS, INI (not checked yet), ...; `* ` in front while a check runs. */
  checkStatus: string;
  /** What the last check said (`last_chk`, else `check_desc`). */
  checkText: string;
  /** Checks failed while the server was up, and its transitions to down (a maint counts too), since the process started. */
  chkfail: number;
  chkdown: number;
}

/** What the agent remembers of one server between readings of the same HAProxy process. */
export interface StickyMemory {
  /**
   * Seen up with a passed check since it was last out (maint, held). Only such a server is
   * taken offline: one that is new, restored down, or released while still failing has
   * never been seen passing, and going down is not news for it.
   */
  proven: boolean;
  chkfail: number;
  chkdown: number;
}

export type Phase = 'up' | 'down' | 'maint' | 'other';

/** The status column reduced to what matters here; `DRAIN` and `NOLB` still run checks and count as up. */
export function phaseOf(status: string): Phase {
  if (status.startsWith('MAINT')) return 'maint';
  if (status.startsWith('DOWN')) return 'down';
  if (status.startsWith('UP') || status.startsWith('DRAIN') || status.startsWith('NOLB')) return 'up';
  return 'other';
}

const PASSED = new Set(['L4OK', 'L6OK', 'L7OK', 'L7OKC']);

function bareStatus(checkStatus: string): string {
  return checkStatus.startsWith('* ') ? checkStatus.slice(2) : checkStatus;
}

/** `L4CON Connection refused`: the check's status and what it said, for the operator. */
export function describeCheck(r: Pick<CheckReading, 'checkStatus' | 'checkText'>): string {
  const text = `${bareStatus(r.checkStatus)} ${r.checkText}`.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return text || 'health check failed';
}

/**
 * One reading of one server. `memory` is what the previous reading of the same HAProxy
 * process left (undefined: the first reading, after a restart or a reload); `held`: the
 * server already has a state override (an operator's drain or maint, or an earlier
 * sticky_offline). Returns what to remember and, when the check took the server down,
 * what to record as why (`offline`).
 *
 * Caught: a proven server read down; and a proven server read up whose counters show a
 * check took it down in between (chkdown and chkfail both moved: an operator's maint and
 * ready moves chkdown only), so a flap shorter than the reading interval is caught too.
 */
export function observe(memory: StickyMemory | undefined, r: CheckReading, held: boolean): { memory: StickyMemory; offline?: string } {
  const counters = { chkfail: r.chkfail, chkdown: r.chkdown };
  const phase = phaseOf(r.status);
  if (held || phase === 'maint') return { memory: { proven: false, ...counters } };
  const proven = memory?.proven === true;
  if (proven && phase === 'down') return { memory: { proven: false, ...counters }, offline: describeCheck(r) };
  if (proven && phase === 'up' && r.chkdown > memory!.chkdown && r.chkfail > memory!.chkfail) {
    return { memory: { proven: false, ...counters }, offline: 'down and back up between two readings' };
  }
  const passed = phase === 'up' && PASSED.has(bareStatus(r.checkStatus));
  return { memory: { proven: phase === 'up' && (proven || passed), ...counters } };
}

/**
 * Why a server is out, for an operator (the API): `offline since 2026-05-04 13:14 UTC:
 * health check failed (L4CON Connection refused); set ready to bring it back`.
 */
export function offlineNote(o: { reason?: string; at?: string; check?: string } | undefined): string | undefined {
  if (o?.reason !== 'sticky_offline') return undefined;
  const since = o.at && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(o.at) ? ` since ${o.at.slice(0, 10)} ${o.at.slice(11, 16)} UTC` : '';
  return `offline${since}: health check failed (${o.check ?? 'no detail'}); set ready to bring it back`;
}
