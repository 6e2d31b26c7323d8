import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/** A temporary path in the same directory as `path`, so a rename onto `path` is atomic. */
export function siblingTempPath(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${++counter}`);
}

/**
 * Writes `text` to a temporary sibling, fsyncs it and renames it over `path`: readers see
 * old or new, never half. `durable: false` skips the fsync (readers still never see half
 * a file) for files that are rewritten from memory after a machine crash anyway.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o644, durable = true): Promise<void> {
  const tmp = siblingTempPath(path);
  // The write is inside the try too: on a full disk the temporary file is created (empty)
  // and the write fails with ENOSPC; it must not be left behind, one per attempt.
  try {
    if (durable) await writeAndSync(tmp, text, mode);
    else await writeFile(tmp, text, { mode });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Writes and fsyncs a new file (every caller passes a fresh temporary path). If the write
 * or the fsync fails (ENOSPC on a full disk: the open succeeds, the write does not), the
 * file is removed, so failed reload attempts leave no empty candidates behind.
 */
export async function writeAndSync(path: string, text: string, mode = 0o644): Promise<void> {
  const fh = await open(path, 'w', mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await fh.close();
}
