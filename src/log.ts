import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** JSON lines by default; human-readable when stdout is a terminal (or PROXYMGR_LOG_PRETTY=1). */
export function createLogger(level = 'info', pretty_ = process.stdout.isTTY || process.env.PROXYMGR_LOG_PRETTY === '1'): Logger {
  const opts = { level, base: { app: 'proxymgr' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty_) return pino(opts, pretty({ colorize: process.stdout.isTTY, sync: true, ignore: 'app,pid,hostname' }));
  return pino(opts, pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything, for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
