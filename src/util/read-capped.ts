import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** What a file looks like from outside; a different one means it may have changed since it was read. */
export function statSignature(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

export interface CappedRead {
  /** The stat signature of the file the bytes came from. */
  signature: string;
  /** Undefined when the file is larger than the cap. */
  text?: string;
}

/**
 * Reads a regular file through one descriptor, so the signature returned belongs to
 * the bytes read (a rename over the path meanwhile does not mix the two up), in as
 * few system calls as it takes: these run once per file event.
 * Resolves to undefined when the path is not a regular file (a directory, a FIFO:
 * O_NONBLOCK so that opening one does not hang); errors such as ENOENT reject.
 */
export async function readCapped(path: string, max: number): Promise<CappedRead | undefined> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const signature = statSignature(st);
    if (st.size > max) return { signature };
    // One byte more than the stat said, to notice a file that grew since.
    let buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      n += bytesRead;
      // A short read of a regular file is its end.
      if (n < buf.length) break;
      if (n > max) return { signature };
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, max + 1));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    return { signature, text: buf.toString('utf8', 0, n) };
  } finally {
    await fh.close();
  }
}
