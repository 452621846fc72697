/**
 * MemoryStore's sessions, laid out for the garbage collector: the ids, times and hash index of
 * every session live in typed arrays, and the data in three plain arrays indexed by slot. A
 * million sessions of small values are then a few dozen objects to V8 instead of millions. Each
 * major collection has to trace every object a process holds, and while one runs every request
 * pays for it, so with sessions as objects a large store slowed every request down, a 1,000,000-
 * session store by up to 15 %; in this layout it costs about what the same bytes in one buffer do.
 */
import { randomBytes } from 'node:crypto';
import type { JsonValue } from '../../types.js';
import { hashPackedId, ID_WORDS, packId, unpackId } from './packed-id.js';
import { decodeValue, type Stored } from './stored.js';

/** What `find` returns for an id the table does not hold. */
export const NO_SLOT = -1;

/** Slots of a new (or cleared) table; it doubles when full. */
const INITIAL_SLOTS = 64;

/**
 * Sessions by slot number. A slot keeps its number from `add` to `remove` (growing copies the
 * arrays and keeps every number); numbers of removed sessions are handed out again.
 */
export class SessionTable {
  #capacity: number;
  /** Slots below this have been handed out at least once; the free ones among them are listed. */
  #used = 0;
  #count = 0;
  #free: Int32Array;
  #freeCount = 0;
  /** Each slot's packed id (`ID_WORDS` words). */
  #ids: Int32Array;
  /** Each slot's id length; 0 marks a free slot. */
  #idLength: Uint8Array;
  #hashes: Int32Array;
  /**
   * The hash index: open addressing with linear probing, slot + 1 per bucket (0 = empty), twice
   * as many buckets as slots, so probes stay short.
   */
  #buckets: Int32Array;
  #mask: number;
  readonly #seed = randomBytes(4).readInt32LE(0);
  /** The id being looked up, packed (reused: no allocation per lookup). */
  readonly #probe = new Int32Array(ID_WORDS);
  #created: Float64Array;
  #expiry: Float64Array;
  #heapIndex: Int32Array;
  /** Each slot's first key (`undefined` when it holds none) and that key's value. */
  readonly #keys: (string | undefined)[] = [];
  readonly #values: Stored[] = [];
  /** Each slot's further keys as `[key, value, key, value, …]`, or `undefined`. */
  readonly #more: (Stored[] | undefined)[] = [];

  constructor(capacity = INITIAL_SLOTS) {
    this.#capacity = capacity;
    this.#free = new Int32Array(capacity);
    this.#ids = new Int32Array(capacity * ID_WORDS);
    this.#idLength = new Uint8Array(capacity);
    this.#hashes = new Int32Array(capacity);
    this.#buckets = new Int32Array(capacity * 2);
    this.#mask = capacity * 2 - 1;
    this.#created = new Float64Array(capacity);
    this.#expiry = new Float64Array(capacity);
    this.#heapIndex = new Int32Array(capacity);
    this.#fillFields(0, capacity);
  }

  /** How many sessions the table holds. */
  get size(): number {
    return this.#count;
  }

  /** How many it holds without growing. */
  get capacity(): number {
    return this.#capacity;
  }

  /** One past the highest slot number in use so far (iterate below it, skipping free slots). */
  get end(): number {
    return this.#used;
  }

  /** Expiry (ms since the epoch) by slot. Read it again after an `add`: growing replaces it. */
  get expiry(): Float64Array {
    return this.#expiry;
  }

  /** The expiry heap's position of each slot (kept by the heap). Replaced by growing, too. */
  get heapIndex(): Int32Array {
    return this.#heapIndex;
  }

  createdAt(slot: number): number {
    return this.#created[slot] as number;
  }

  isLive(slot: number): boolean {
    return this.#idLength[slot] !== 0;
  }

  /** The slot holding `id` (a valid session id), or `NO_SLOT`. */
  find(id: string): number {
    const probe = this.#probe;
    packId(id, probe, 0);
    const hash = hashPackedId(probe, 0, this.#seed);
    const length = id.length;
    const buckets = this.#buckets;
    const mask = this.#mask;
    for (let bucket = hash & mask; ; bucket = (bucket + 1) & mask) {
      const entry = buckets[bucket] as number;
      if (entry === 0) return NO_SLOT;
      const slot = entry - 1;
      if (
        this.#hashes[slot] === hash &&
        this.#idLength[slot] === length &&
        this.#holdsProbe(slot)
      ) {
        return slot;
      }
    }
  }

  /** Adds `id`, which the table must not hold, with no keys; returns its slot. */
  add(id: string, createdAt: number, expiresAt: number): number {
    if (this.#count === this.#capacity) this.#grow();
    const slot = this.#freeCount > 0 ? (this.#free[--this.#freeCount] as number) : this.#used++;
    const at = slot * ID_WORDS;
    packId(id, this.#ids, at);
    const hash = hashPackedId(this.#ids, at, this.#seed);
    this.#idLength[slot] = id.length;
    this.#hashes[slot] = hash;
    this.#created[slot] = createdAt;
    this.#expiry[slot] = expiresAt;
    this.#heapIndex[slot] = -1;
    this.#keys[slot] = undefined;
    this.#values[slot] = null;
    this.#more[slot] = undefined;
    this.#place(slot, hash);
    this.#count++;
    return slot;
  }

  /** Removes the session in `slot` (a live one). */
  remove(slot: number): void {
    const buckets = this.#buckets;
    const hashes = this.#hashes;
    const mask = this.#mask;
    let hole = (hashes[slot] as number) & mask;
    while (buckets[hole] !== slot + 1) hole = (hole + 1) & mask;
    // Backward-shift deletion: the entries after the hole that may live there move up, so
    // every probe still ends at the first empty bucket (no tombstones to pile up).
    for (let next = (hole + 1) & mask; ; next = (next + 1) & mask) {
      const entry = buckets[next] as number;
      if (entry === 0) break;
      const home = (hashes[entry - 1] as number) & mask;
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        buckets[hole] = entry;
        hole = next;
      }
    }
    buckets[hole] = 0;
    this.#idLength[slot] = 0;
    this.#keys[slot] = undefined;
    this.#values[slot] = null;
    this.#more[slot] = undefined;
    this.#free[this.#freeCount++] = slot;
    this.#count--;
  }

  /** The id of the session in `slot` (a new string: for listings and the user index only). */
  idOf(slot: number): string {
    return unpackId(this.#ids, slot * ID_WORDS, this.#idLength[slot] as number);
  }

  /** A fresh copy of the slot's data. */
  decode(slot: number): Record<string, JsonValue> {
    const data: Record<string, JsonValue> = Object.create(null);
    const key = this.#keys[slot];
    if (key === undefined) return data;
    data[key] = decodeValue(this.#values[slot] as Stored);
    const more = this.#more[slot];
    if (more) {
      for (let i = 0; i < more.length; i += 2) {
        data[more[i] as string] = decodeValue(more[i + 1] as Stored);
      }
    }
    return data;
  }

  /** Calls `visit` with each key and stored value of the slot, in order. */
  forEachField(slot: number, visit: (key: string, value: Stored) => void): void {
    const key = this.#keys[slot];
    if (key === undefined) return;
    visit(key, this.#values[slot] as Stored);
    const more = this.#more[slot];
    if (more)
      for (let i = 0; i < more.length; i += 2) visit(more[i] as string, more[i + 1] as Stored);
  }

  setField(slot: number, key: string, value: Stored): void {
    const first = this.#keys[slot];
    if (first === key || first === undefined) {
      this.#keys[slot] = key;
      this.#values[slot] = value;
      return;
    }
    const more = this.#more[slot];
    if (!more) {
      this.#more[slot] = [key, value];
      return;
    }
    for (let i = 0; i < more.length; i += 2) {
      if (more[i] === key) {
        more[i + 1] = value;
        return;
      }
    }
    more.push(key, value);
  }

  unsetField(slot: number, key: string): void {
    const more = this.#more[slot];
    if (this.#keys[slot] === key) {
      // The next key moves up, so the keys keep their order.
      this.#keys[slot] = more?.[0] as string | undefined;
      this.#values[slot] = (more?.[1] as Stored | undefined) ?? null;
      if (more) more.splice(0, 2);
    } else if (more) {
      for (let i = 0; i < more.length; i += 2) {
        if (more[i] === key) {
          more.splice(i, 2);
          break;
        }
      }
    }
    if (more?.length === 0) this.#more[slot] = undefined;
  }

  /**
   * A copy with only the live sessions, in a table sized for them (the memory left behind by a
   * mass expiry goes back). Slot numbers change: whoever keeps them rebuilds from the copy.
   */
  compacted(): SessionTable {
    let capacity = INITIAL_SLOTS;
    while (capacity < this.#count * 2) capacity *= 2;
    const copy = new SessionTable(capacity);
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#idLength[slot] === 0) continue;
      const to = copy.add(
        this.idOf(slot),
        this.#created[slot] as number,
        this.#expiry[slot] as number,
      );
      copy.#keys[to] = this.#keys[slot];
      copy.#values[to] = this.#values[slot] as Stored;
      copy.#more[to] = this.#more[slot];
    }
    return copy;
  }

  #holdsProbe(slot: number): boolean {
    const ids = this.#ids;
    const probe = this.#probe;
    const at = slot * ID_WORDS;
    for (let w = 0; w < ID_WORDS; w++) if (ids[at + w] !== probe[w]) return false;
    return true;
  }

  #place(slot: number, hash: number): void {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let bucket = hash & mask;
    while (buckets[bucket] !== 0) bucket = (bucket + 1) & mask;
    buckets[bucket] = slot + 1;
  }

  /** Doubles every array; slot numbers stay, the hash index is rebuilt from the kept hashes. */
  #grow(): void {
    const old = this.#capacity;
    const capacity = old * 2;
    this.#capacity = capacity;
    this.#free = grown(this.#free, new Int32Array(capacity));
    this.#ids = grown(this.#ids, new Int32Array(capacity * ID_WORDS));
    this.#idLength = grown(this.#idLength, new Uint8Array(capacity));
    this.#hashes = grown(this.#hashes, new Int32Array(capacity));
    this.#created = grown(this.#created, new Float64Array(capacity));
    this.#expiry = grown(this.#expiry, new Float64Array(capacity));
    this.#heapIndex = grown(this.#heapIndex, new Int32Array(capacity));
    this.#fillFields(old, capacity);
    this.#buckets = new Int32Array(capacity * 2);
    this.#mask = capacity * 2 - 1;
    for (let slot = 0; slot < this.#used; slot++) {
      if (this.#idLength[slot] !== 0) this.#place(slot, this.#hashes[slot] as number);
    }
  }

  /** Gives slots `from` to `to` their empty fields (packed arrays: no holes for V8 to check). */
  #fillFields(from: number, to: number): void {
    for (let slot = from; slot < to; slot++) {
      this.#keys.push(undefined);
      this.#values.push(null);
      this.#more.push(undefined);
    }
  }
}

function grown<A extends Int32Array | Uint8Array | Float64Array>(from: A, to: A): A {
  to.set(from);
  return to;
}
