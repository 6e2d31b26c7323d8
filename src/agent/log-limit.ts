import type { Logger } from '../log';

/** At most one line per minute for a warning that repeats (a retry every second would log forever). */
export const REPEAT_LOG_MS = 60_000;

/**
 * A warning that may repeat: the first occurrence is logged at once, then at most one
 * line per `everyMs`, carrying `repeated: N` (how many were not logged since the last
 * line). `clear()` when the condition is over, so the next occurrence is logged at once.
 */
export class RepeatedWarning {
  private lastAt?: number;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = REPEAT_LOG_MS,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    if (this.lastAt !== undefined && t - this.lastAt < this.everyMs) {
      this.suppressed++;
      return;
    }
    const repeated = this.suppressed;
    this.lastAt = t;
    this.suppressed = 0;
    this.log.warn(repeated ? { ...fields, repeated } : fields, msg);
  }

  /** The condition is over. Returns how many occurrences went unlogged since the last line. */
  clear(): number {
    const n = this.suppressed;
    this.lastAt = undefined;
    this.suppressed = 0;
    return n;
  }

  get active(): boolean {
    return this.lastAt !== undefined;
  }
}
