/**
 * MemoryStore's user index: user → the ids of that user's sessions, and id → user, so a session
 * leaves its user's set in O(1) whenever the store drops it (destroy, expiry popped from the
 * expiry heap, eviction, clear). The sets stay exactly what the store holds; nothing is swept.
 * Epochs are kept per user for the life of the store (one number per revoked user).
 */
export class UserSets {
  readonly #byUser = new Map<string, Set<string>>();
  readonly #userOf = new Map<string, string>();
  readonly #epochs = new Map<string, number>();

  /** How many sessions are bound (0 lets the store skip the lookup on every delete). */
  get size(): number {
    return this.#userOf.size;
  }

  add(userId: string, id: string): void {
    let set = this.#byUser.get(userId);
    if (!set) {
      set = new Set();
      this.#byUser.set(userId, set);
    }
    set.add(id);
    this.#userOf.set(id, userId);
  }

  /** Forgets session `id` (a no-op for an unbound one). */
  remove(id: string): void {
    const userId = this.#userOf.get(id);
    if (userId === undefined) return;
    this.#userOf.delete(id);
    const set = this.#byUser.get(userId);
    if (!set) return;
    set.delete(id);
    if (set.size === 0) this.#byUser.delete(userId);
  }

  /** A snapshot of the user's session ids (safe to iterate while destroying them). */
  ids(userId: string): string[] {
    const set = this.#byUser.get(userId);
    return set ? [...set] : [];
  }

  clear(): void {
    this.#byUser.clear();
    this.#userOf.clear();
  }

  epoch(userId: string): number {
    return this.#epochs.get(userId) ?? 0;
  }

  raiseEpoch(userId: string, atLeast: number): number {
    const epoch = Math.max(this.epoch(userId), atLeast);
    this.#epochs.set(userId, epoch);
    return epoch;
  }
}
