import { readFileSync } from 'node:fs';

/** What /proc says of a process: how the supervisor tells a stopped (wedged) HAProxy from a busy one. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R running, S sleeping, D disk sleep, T stopped, t tracing stop, Z zombie, X dead, ... */
  state: string;
  ppid: number;
}

/**
 * Parses the text of /proc/PID/stat. The command name (field 2) is in parentheses and may
 * itself hold spaces and parentheses, so the fields after it are found after the LAST `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const [state, ppid] = [rest[0], Number(rest[1])];
  if (!Number.isInteger(pid) || !state || !/^[A-Za-z]$/.test(state) || !Number.isInteger(ppid)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid };
}

/** True for the states in which a process cannot run until someone else acts: stopped by a signal (`T`) or by a tracer (`t`). */
export function isStoppedState(state: string | undefined): boolean {
  return state === 'T' || state === 't';
}

/** The /proc state letter of `pid`, or undefined when it is gone or /proc cannot be read (not Linux). */
export function procState(pid: number): string | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.state;
  } catch {
    return undefined;
  }
}

/** Sends a signal to a process that may already be gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** For a process that is not our child: resolves once it is gone. */
export function pollExit(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!isAlive(pid)) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    timer.unref();
  });
}
