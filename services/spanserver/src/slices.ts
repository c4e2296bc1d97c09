/**
 * Work over every hosted split in slices (docs/spanserver.md, "Periodic work and the event
 * loop"): one event loop serves every split, so a pass over hundreds of them in one callback
 * stalls all of them at once. These passes yield a turn (setImmediate) whenever a slice has run
 * `sliceMs`, so timers and messages due meanwhile run in between.
 */

/** Lets the event loop run its timers and I/O before going on. */
export const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Default slice length, ms: well under the 20 ms event-loop goal (docs/metrics.md, "Event-loop delay"). */
export const DEFAULT_SLICE_MS = 4;

/**
 * Calls `fn` on each item in order, yielding a turn after any item that ends a slice of
 * `sliceMs` or more (so at most one turn per item: bounded by `items.length`). `items` is read
 * as given: pass a copy when the collection may change across the turns.
 */
export async function eachInSlices<T>(items: readonly T[], fn: (item: T) => void, sliceMs = DEFAULT_SLICE_MS, nowMs: () => number = () => performance.now()): Promise<void> {
  let sliceStart = nowMs();
  for (let i = 0; i < items.length; i++) {
    fn(items[i]!);
    if (i + 1 < items.length && nowMs() - sliceStart >= sliceMs) {
      await yieldTurn();
      sliceStart = nowMs();
    }
  }
}
