/**
 * Ids destroyed recently in this process, remembered for a while so that a write still in flight
 * (or a store that answers a read from a lagging replica) can't bring a logged-out session back.
 * Bounded in time and in size: the oldest entries go first, each add costs O(1) amortized.
 */
export class DestroyedIds {
  readonly #ttlMs: number;
  readonly #max: number;
  /** id → forget-after time; insertion order is expiry order, since the ttl is fixed. */
  readonly #until = new Map<string, number>();

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  add(id: string, now = Date.now()): void {
    this.#until.delete(id);
    this.#until.set(id, now + this.#ttlMs);
    this.#prune(now);
  }

  has(id: string, now = Date.now()): boolean {
    const until = this.#until.get(id);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(id);
    return false;
  }

  /** How many ids are remembered (expired ones may still count until the next add). */
  get size(): number {
    return this.#until.size;
  }

  #prune(now: number): void {
    for (const [id, until] of this.#until) {
      if (until > now && this.#until.size <= this.#max) return;
      this.#until.delete(id);
    }
  }
}
