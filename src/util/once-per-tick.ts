/**
 * Wraps `fn` so that any number of calls in one turn of the event loop run it once, on the
 * next turn: a burst of watch events becomes one report of the whole state. `fn` decides
 * itself whether it still has anything to do (its owner may have stopped meanwhile).
 */
export function oncePerTick(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      fn();
    });
  };
}
