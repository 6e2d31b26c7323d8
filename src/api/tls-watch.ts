import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { ApiTlsFiles } from './tls';

/** How often the files are looked at, and how long after the last change they are read (a renewal writes the certificate and the key one after the other). */
const POLL_MS = 2_000;
const SETTLE_MS = 1_000;

/**
 * Calls `changed` once the API's certificate, key or client CA file changed on disk and then
 * stayed the same for a moment. Polling the path (not an inotify watch on the file) follows
 * what renewal tools do: write a new file and rename it over the old one, or move a symlink.
 * Returns the function that stops watching.
 */
export function watchTlsFiles(files: ApiTlsFiles, changed: () => void, pollMs = POLL_MS, settleMs = SETTLE_MS): () => void {
  const paths = [files.cert_file, files.key_file, files.client_ca_file].filter((p): p is string => p !== undefined);
  let timer: NodeJS.Timeout | undefined;
  const listener = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    clearTimeout(timer);
    timer = setTimeout(changed, settleMs);
    timer.unref();
  };
  for (const p of paths) watchFile(p, { persistent: false, interval: pollMs }, listener);
  return () => {
    clearTimeout(timer);
    for (const p of paths) unwatchFile(p, listener);
  };
}
