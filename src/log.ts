import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const levelSetters = new WeakMap<Logger, (level: string) => void>();

/**
 * JSON lines by default; human-readable when stdout is a terminal (or PROXYMGR_LOG_PRETTY=1).
 * `tap` also receives every info-or-higher line as JSON (the dashboard's feed).
 * The level can change later (`setLogLevel`, on SIGHUP), for child loggers too.
 */
export function createLogger(
  level = 'info',
  pretty_ = process.stdout.isTTY || process.env.PROXYMGR_LOG_PRETTY === '1',
  tap?: { write(line: string): void },
): Logger {
  const out = pretty_ ? pretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'app,pid,hostname' }) : pino.destination({ dest: 1, sync: true });
  let outLevel = pino.levels.values[level];
  // pino sets `lastLevel` on a destination that asks for metadata, before each write:
  // stdout gets what the configured level lets through, the tap info and above.
  const tee = {
    [pino.symbols.needsMetadataGsym]: true,
    lastLevel: 0,
    write(line: string) {
      if (this.lastLevel >= outLevel) out.write(line);
      if (tap && this.lastLevel >= pino.levels.values.info) tap.write(line);
    },
  };
  // Children copy their level when created; they are kept (weakly) so that a new level reaches them.
  const children = new Set<WeakRef<Logger>>();
  const gate = () => (tap ? pino.levels.labels[Math.min(outLevel, pino.levels.values.info)] : pino.levels.labels[outLevel]);
  const root = pino(
    {
      level: gate(),
      base: { app: 'proxymgr' },
      timestamp: pino.stdTimeFunctions.isoTime,
      onChild: (child) => children.add(new WeakRef(child)),
    },
    tee,
  );
  levelSetters.set(root, (next) => {
    outLevel = pino.levels.values[next];
    root.level = gate();
    for (const ref of children) {
      const child = ref.deref();
      if (child) child.level = gate();
      else children.delete(ref);
    }
  });
  return root;
}

/** Changes the level of a logger made by `createLogger` and of all its children. */
export function setLogLevel(logger: Logger, level: string): void {
  levelSetters.get(logger)?.(level);
}

/** A logger that drops everything, for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
