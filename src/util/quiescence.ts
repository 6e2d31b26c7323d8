export interface QuiescenceOptions {
  /** Fire after this much quiet following the last trigger... */
  quietMs: number;
  /** ...or this long after the first trigger of a burst, whichever comes first. */
  maxWaitMs: number;
  /** Never fire sooner than this after the previous firing started... */
  minIntervalMs: number;
  /** ...plus up to this much at random (applied to that spacing only), so a fleet does not fire in step. */
  jitterMs?: number;
  random?: () => number;
}

/**
 * A debounce that cannot be starved: a steady stream of triggers still fires every
 * `maxWaitMs` (ProxyMgr's restart-on-every-change debounce could wait forever).
 * `fire` runs one at a time; triggers during a run schedule one more run after it.
 */
export class Quiescence {
  private firstAt?: number;
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private lastFireAt = -Infinity;
  private closed = false;
  private flushAgain = false;

  constructor(
    private opts: QuiescenceOptions,
    private readonly fire: () => Promise<void>,
    private readonly now: () => number = () => Date.now(),
    /** A failed `fire` is reported here; the timer keeps working. */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  trigger(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const now = this.now();
    this.firstAt ??= now;
    this.schedule(now);
  }

  /** New timings (SIGHUP): they apply from the next trigger. */
  configure(opts: QuiescenceOptions): void {
    this.opts = { ...opts, random: this.opts.random };
  }

  /** Runs now (after a run in progress), skipping the quiet period. */
  flush(): void {
    if (this.closed) return;
    this.firstAt ??= this.now();
    if (this.running) this.flushAgain = true;
    else this.arm(0);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(now: number): void {
    const jitter = this.opts.jitterMs ? (this.opts.random ?? Math.random)() * this.opts.jitterMs : 0;
    const due = Math.max(
      Math.min(now + this.opts.quietMs, this.firstAt! + this.opts.maxWaitMs),
      this.lastFireAt + this.opts.minIntervalMs + jitter,
    );
    this.arm(Math.max(0, due - now));
  }

  private arm(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delay);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.firstAt = undefined;
    this.running = true;
    this.lastFireAt = this.now();
    try {
      await this.fire();
    } catch (err) {
      this.onError(err);
    } finally {
      this.running = false;
      if (!this.closed && this.flushAgain) {
        this.flushAgain = this.again = false;
        this.arm(0);
      } else if (!this.closed && this.again) {
        this.again = false;
        this.firstAt = this.now();
        this.schedule(this.firstAt);
      }
    }
  }
}
