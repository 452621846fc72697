/**
 * MemoryStore's forwards: old id → the id a regenerate moved it to, until when. A logout of the
 * old session within that time ends the new one too (a logout racing a regenerate, from a
 * request that loaded the old session). Kept in the order they were made, so the oldest go first.
 */
import { setBounded } from '../../bounded-map.js';

export class Forwards {
  readonly #byId = new Map<string, { to: string; until: number }>();
  /** At most this many are kept (the store's `maxSessions`). */
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Records that `from` moved to `to`, followed until `until`. */
  add(from: string, to: string, until: number): void {
    setBounded(this.#byId, from, { to, until }, this.#max);
  }

  /** The id `id` moved to, while its forward lasts, or `undefined`; the forward is used up. */
  take(id: string, now: number): string | undefined {
    const byId = this.#byId;
    if (byId.size === 0) return undefined;
    const forward = byId.get(id);
    if (!forward) return undefined;
    byId.delete(id);
    return forward.until > now ? forward.to : undefined;
  }

  /** Drops the forwards that have run out (the oldest first: they are in the order made). */
  prune(now: number): void {
    for (const [id, forward] of this.#byId) {
      if (forward.until > now) return;
      this.#byId.delete(id);
    }
  }

  clear(): void {
    this.#byId.clear();
  }
}
