import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { formatIssues, PARSE_OPTIONS } from '../model/fields';
import { MAX_WEIGHT } from '../model/server';
import type { Override } from './desired-state';

/** service -> server -> the operator's override. */
export type Overrides = Map<string, Map<string, Override>>;

const VERSION = 1;
/** What HAProxy's check said, as kept with a sticky_offline override (longer text is cut). */
export const MAX_CHECK_TEXT = 200;

const fileSchema = z.strictObject({
  version: z.literal(VERSION),
  overrides: z.record(
    z.string().max(100),
    z.record(
      z.string().max(300),
      // reason/at/check came with sticky_offline; files written before load as they are.
      z.strictObject({
        state: z.enum(['drain', 'maint']).optional(),
        weight: z.int().min(0).max(MAX_WEIGHT).optional(),
        reason: z.literal('sticky_offline').optional(),
        at: z.string().max(40).optional(),
        check: z.string().max(MAX_CHECK_TEXT).optional(),
      }),
    ),
  ),
});

/**
 * Reads the overrides an earlier agent saved. A missing file is an empty set; a file
 * that cannot be read or parsed is reported (by the caller, naming the file) and
 * ignored: it must never keep the agent from starting.
 */
export function readOverrides(path: string): { overrides: Overrides; error?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { overrides: new Map() } : { overrides: new Map(), error: `cannot read: ${code ?? (err as Error).message}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { overrides: new Map(), error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = fileSchema.safeParse(raw, PARSE_OPTIONS);
  if (!parsed.success) return { overrides: new Map(), error: formatIssues(parsed.error.issues).join('; ') };
  const out: Overrides = new Map();
  for (const [service, servers] of Object.entries(parsed.data.overrides)) {
    const own = new Map<string, Override>();
    // A reason without the state it explains means nothing: dropped.
    for (const [server, o] of Object.entries(servers)) if (o.state !== undefined || o.weight !== undefined) own.set(server, o.state === undefined ? { weight: o.weight } : o);
    if (own.size) out.set(service, own);
  }
  return { overrides: out };
}

/**
 * Writes the overrides atomically (a temporary file renamed over the old one), readable
 * by the agent's account only. Synchronous: the API answers an operator only once the
 * decision is on disk, and the file is a few lines.
 */
export function writeOverrides(path: string, overrides: Overrides): void {
  const data = {
    version: VERSION,
    overrides: Object.fromEntries([...overrides].sort(([a], [b]) => (a < b ? -1 : 1)).map(([service, own]) => [service, Object.fromEntries([...own].sort(([a], [b]) => (a < b ? -1 : 1)))])),
  };
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
}
