import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * JSON lines by default; human-readable when stdout is a terminal (or PROXYMGR_LOG_PRETTY=1).
 * `tap` also receives every info-or-higher line as JSON (the dashboard's feed).
 */
export function createLogger(
  level = 'info',
  pretty_ = process.stdout.isTTY || process.env.PROXYMGR_LOG_PRETTY === '1',
  tap?: { write(line: string): void },
): Logger {
  const opts = { level, base: { app: 'proxymgr' }, timestamp: pino.stdTimeFunctions.isoTime };
  const out = pretty_ ? pretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'app,pid,hostname' }) : pino.destination({ dest: 1, sync: true });
  if (!tap) return pino(opts, out);
  // The logger lets through what either stream wants; each stream filters to its own level.
  const lowest = pino.levels.values[level] < pino.levels.values.info ? level : 'info';
  return pino({ ...opts, level: lowest }, pino.multistream([{ level: level as pino.Level, stream: out }, { level: 'info', stream: tap }]));
}

/** A logger that drops everything, for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
