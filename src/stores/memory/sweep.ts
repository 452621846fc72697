/**
 * MemoryStore's cleanup: removes the expired entries from the top of the expiration index, in
 * slices of about 2 ms with the event loop served in between, so a mass expiry never blocks
 * requests for longer than a slice.
 */
import { EMPTY, type ExpiryHeap } from './expiry-heap.js';

/** Work done by one slice of a sweep before yielding to the event loop. */
const SLICE_MS = 2;

/**
 * Removes every slot of the current index whose expiry is at or before `now()` with `remove`,
 * which must take it out of the index; resolves how many were removed. `index()` and `expiry()`
 * are read again each slice: a `clear()` or a compaction in between replaces them.
 */
export async function sweepExpired(
  index: () => ExpiryHeap,
  expiry: () => Float64Array,
  now: () => number,
  remove: (slot: number) => void,
): Promise<number> {
  let removed = 0;
  for (;;) {
    const first = index().peek();
    if (first === EMPTY || (expiry()[first] as number) > now()) return removed;
    // Every slice starts from `setImmediate`, one per turn of the event loop. A first slice
    // run right away (say from the cleanup timer) would be followed by the second in the same
    // turn's check phase: two slices back to back, one 4 ms block.
    await new Promise((resolve) => setImmediate(resolve));
    const until = now();
    const deadline = performance.now() + SLICE_MS;
    const heap = index();
    let top = heap.peek();
    while (top !== EMPTY && (expiry()[top] as number) <= until) {
      remove(top);
      removed++;
      if ((removed & 255) === 0 && performance.now() > deadline) break;
      top = heap.peek();
    }
  }
}
