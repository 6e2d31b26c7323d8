import { watch, type FSWatcher } from 'node:fs';

/**
 * Raw inotify events for a directory, by file name. chokidar stays the authority on
 * which files exist, but it throttles change events: writes less than ~50 ms apart
 * were measured to lose every other event. This only triggers content re-reads,
 * which are cheap and skipped when the bytes did not change.
 * Returns a function that stops watching; a failure to watch is silent (chokidar still runs).
 */
export function onDirEvents(dir: string, onName: (name: string) => void): () => void {
  let w: FSWatcher | undefined;
  try {
    w = watch(dir, { persistent: false }, (_type, name) => {
      if (name) onName(name.toString());
    });
    w.on('error', () => w?.close());
  } catch {
    return () => undefined;
  }
  return () => w?.close();
}
