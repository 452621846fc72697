/**
 * A binary min-heap of slot numbers ordered by their expiry, each slot knowing its own position
 * so it can be moved or removed in O(log n). This is the MemoryStore's expiration index: cleanup
 * pops exactly the expired sessions (O(expired · log n)) instead of walking every one. The heap is
 * an `Int32Array`, like the table it orders: no object per session.
 */

/** Where the heap reads each slot's expiry and keeps its position (-1: not in the heap). */
export interface SlotTimes {
  readonly expiry: Float64Array;
  readonly heapIndex: Int32Array;
}

/** What `peek` returns for an empty heap. */
export const EMPTY = -1;

export class ExpiryHeap {
  readonly #times: SlotTimes;
  #items = new Int32Array(64);
  #length = 0;

  constructor(times: SlotTimes) {
    this.#times = times;
  }

  /** The slot that expires first, or `EMPTY`. */
  peek(): number {
    return this.#length > 0 ? (this.#items[0] as number) : EMPTY;
  }

  push(slot: number): void {
    if (this.#length === this.#items.length) this.#resize(this.#items.length * 2);
    const i = this.#length++;
    this.#items[i] = slot;
    this.#times.heapIndex[slot] = i;
    this.#up(i);
  }

  /** Re-positions a slot after its expiry changed. */
  update(slot: number): void {
    const i = this.#times.heapIndex[slot] as number;
    if (i < 0) return;
    const expiry = this.#times.expiry;
    if (
      i > 0 &&
      (expiry[this.#items[(i - 1) >> 1] as number] as number) > (expiry[slot] as number)
    ) {
      this.#up(i);
    } else this.#down(i);
  }

  remove(slot: number): void {
    const heapIndex = this.#times.heapIndex;
    const i = heapIndex[slot] as number;
    if (i < 0) return;
    const last = this.#items[--this.#length] as number;
    heapIndex[slot] = -1;
    if (last === slot) return;
    this.#items[i] = last;
    heapIndex[last] = i;
    this.update(last);
  }

  /**
   * Re-checks every position in O(n), and gives back the array's spare room when it holds under
   * a quarter of what it could (after a mass expiry).
   */
  rebuild(): void {
    const length = this.#length;
    if (length * 4 < this.#items.length && this.#items.length > 64) {
      let size = 64;
      while (size < length * 2) size *= 2;
      this.#resize(size);
    }
    for (let i = (length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #resize(size: number): void {
    const items = new Int32Array(size);
    items.set(this.#items.subarray(0, this.#length));
    this.#items = items;
  }

  #up(i: number): void {
    const items = this.#items;
    const { expiry, heapIndex } = this.#times;
    const slot = items[i] as number;
    const key = expiry[slot] as number;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as number;
      if ((expiry[parent] as number) <= key) break;
      items[i] = parent;
      heapIndex[parent] = i;
      i = parentIndex;
    }
    items[i] = slot;
    heapIndex[slot] = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const { expiry, heapIndex } = this.#times;
    const length = this.#length;
    const slot = items[i] as number;
    const key = expiry[slot] as number;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      const child =
        right < length &&
        (expiry[items[right] as number] as number) < (expiry[items[left] as number] as number)
          ? right
          : left;
      const childSlot = items[child] as number;
      if ((expiry[childSlot] as number) >= key) break;
      items[i] = childSlot;
      heapIndex[childSlot] = i;
      i = child;
    }
    items[i] = slot;
    heapIndex[slot] = i;
  }
}
