/**
 * A binary min-heap of entries ordered by `expiry`, each entry knowing its own position so it
 * can be moved or removed in O(log n). This is the MemoryStore's expiration index: cleanup pops
 * exactly the expired entries (O(expired · log n)) instead of walking every session.
 */
export interface HeapEntry {
  /** When the entry expires, on any time scale the owner uses consistently (lower = sooner). */
  expiry: number;
  /** Position in the heap array; -1 when not in the heap. Maintained by the heap. */
  heapIndex: number;
}

export class ExpiryHeap<E extends HeapEntry> {
  #items: E[] = [];

  /** The entry that expires first, or `undefined` when empty. */
  peek(): E | undefined {
    return this.#items[0];
  }

  push(entry: E): void {
    entry.heapIndex = this.#items.length;
    this.#items.push(entry);
    this.#up(entry.heapIndex);
  }

  /** Re-positions an entry after its `expiry` changed. */
  update(entry: E): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    if (i > 0 && this.#items[(i - 1) >> 1]!.expiry > entry.expiry) this.#up(i);
    else this.#down(i);
  }

  remove(entry: E): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    const last = this.#items.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.#items[i] = last;
    last.heapIndex = i;
    this.update(last);
  }

  clear(): void {
    for (const entry of this.#items) entry.heapIndex = -1;
    this.#items = [];
  }

  /**
   * Rebuilds the heap from its entries in O(n) into a right-sized array, releasing the
   * capacity left behind by mass deletions and re-checking every position.
   */
  rebuild(): void {
    const items = this.#items.slice();
    this.#items = items;
    for (let i = 0; i < items.length; i++) items[i]!.heapIndex = i;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #up(i: number): void {
    const items = this.#items;
    const entry = items[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex]!;
      if (parent.expiry <= entry.expiry) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    items[i] = entry;
    entry.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const length = items.length;
    const entry = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && items[right]!.expiry < items[left]!.expiry ? right : left;
      const childEntry = items[child]!;
      if (childEntry.expiry >= entry.expiry) break;
      items[i] = childEntry;
      childEntry.heapIndex = i;
      i = child;
    }
    items[i] = entry;
    entry.heapIndex = i;
  }
}
