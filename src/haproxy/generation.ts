import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../log';
import { isStoppedState, procState, signal } from './proc';

/** One HAProxy process the supervisor runs or took over, from its start to its exit. */
export interface Generation {
  pid: number;
  child?: ChildProcess;
  startedAt: number;
  /** Last lines HAProxy printed, for failure reports. */
  output: string[];
  /** Not our child: a process found on the admin socket at start (left by an earlier agent). */
  adopted: boolean;
  /** Being replaced: the new process tells it to finish (-sf), so its exit is expected. */
  retiring?: boolean;
  /** A new process not yet ready; set to why it failed when it did (it never served). */
  starting?: boolean;
  failure?: string;
  /** SIGKILLed by the supervisor because it was wedged (stopped, or replaced as unresponsive). */
  killed?: string;
  exited: Promise<void>;
}

const OUTPUT_LINES = 50;
// HAProxy prints these as warnings on every soft stop (each reload); they are routine.
const ROUTINE = /Proxy \S+ stopped \(cumulated|Stopping (proxy|frontend|backend) |Exiting Master process/;
// Echoes of the agent's own runtime commands (add, state, del): the agent's plan line already
// says it; at 10,000 adds they would be 20,000 lines and a full stdout pipe blocks the agent.
const ECHO = /CLI : |\(leaving forced (maintenance|drain)\)|is going DOWN for maintenance\./;
const WEDGE_POLL_MS = 100;

/** HAProxy's output, line by line, into the log at a level that fits, keeping the last lines for failure reports. */
export function forwardOutput(gen: Generation, log: Logger): void {
  const child = gen.child!;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      gen.output.push(line);
      if (gen.output.length > OUTPUT_LINES) gen.output.shift();
      const level = line.includes('[ALERT]') ? 'error' : ECHO.test(line) ? 'debug' : line.includes('[WARNING]') && !ROUTINE.test(line) ? 'warn' : 'info';
      log[level]({ event: 'haproxy_output', pid: gen.pid, line }, 'haproxy');
    });
  }
}

/**
 * A retiring generation should close its listeners at once (SIGUSR1 from -sf) and then
 * finish its open connections, for as long as hard_stop_after allows: that is legitimate
 * and is left alone. A stopped one (/proc state T: kill -STOP, a debugger) does neither,
 * while the kernel keeps giving its listening sockets a share of new connections, with
 * the previous config. Seen stopped for `wedgedKillMs` without a break, it is SIGKILLed.
 */
export function watchRetiring(gen: Generation, opts: { boundMs: number; log: Logger; retiring: () => boolean; currentPid: () => number | undefined }): void {
  const bound = opts.boundMs;
  let stoppedSince: number | undefined;
  let gone = false;
  void gen.exited.then(() => (gone = true));
  const timer = setInterval(() => {
    if (gone || !opts.retiring()) return clearInterval(timer);
    const state = procState(gen.pid);
    if (!isStoppedState(state)) {
      stoppedSince = undefined;
      return;
    }
    const now = Date.now();
    stoppedSince ??= now;
    if (now - stoppedSince < bound) return;
    clearInterval(timer);
    gen.killed = `stopped (state ${state}) for ${now - stoppedSince} ms after it was told to finish`;
    opts.log.warn(
      { event: 'haproxy_wedged_killed', pid: gen.pid, state, stopped_ms: now - stoppedSince, current_pid: opts.currentPid() },
      `old HAProxy pid ${gen.pid} is stopped (state ${state}) and still holds the listening sockets with the previous config; killed it (SIGKILL)`,
    );
    signal(gen.pid, 'SIGKILL');
  }, WEDGE_POLL_MS);
  timer.unref();
}

export function describeExit(child?: ChildProcess): string {
  if (!child) return 'unknown';
  return child.signalCode ? `signal ${child.signalCode}` : `exit code ${child.exitCode}`;
}
