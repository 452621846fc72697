/**
 * How MemoryStore holds one session: a fixed-shape entry with the data as JSON text per key, and
 * the functions that read and change those keys.
 */
import type { JsonValue } from '../../types.js';
import type { HeapEntry } from './expiry-heap.js';

/**
 * One session. A class, so every entry has one fixed shape with in-object fields (no dictionary,
 * no per-entry array for the common one-key session). The data is JSON text per key: a copy
 * nobody outside can mutate, and a `set` of one key re-serializes only that key's value.
 *
 * Times are ms offsets from the store's `base` (its construction time), not ms since the epoch:
 * epoch times (~1.7e12) are heap numbers in V8, 16 B apiece, while offsets within ±2^30 ms
 * (12 days) are small integers kept inside the object. Beyond that range V8 stores them as heap
 * numbers (the same values, exact; only ~32 B more per session).
 */
export class Entry implements HeapEntry {
  readonly id: string;
  /** The first key, or `undefined` when the session holds no key (then `more` is too). */
  key: string | undefined = undefined;
  /** JSON of `key`'s value. */
  json = '';
  /** Further keys as `[key, json, key, json, …]`, or `undefined` when there are none. */
  more: string[] | undefined = undefined;
  readonly created: number;
  expiry: number;
  heapIndex = -1;

  constructor(id: string, created: number, expiry: number) {
    this.id = id;
    this.created = created;
    this.expiry = expiry;
  }
}

export function decode(entry: Entry): Record<string, JsonValue> {
  const data: Record<string, JsonValue> = Object.create(null);
  if (entry.key === undefined) return data;
  data[entry.key] = JSON.parse(entry.json);
  const more = entry.more;
  if (more) for (let i = 0; i < more.length; i += 2) data[more[i]!] = JSON.parse(more[i + 1]!);
  return data;
}

export function setField(entry: Entry, key: string, json: string): void {
  if (entry.key === key || entry.key === undefined) {
    entry.key = key;
    entry.json = json;
    return;
  }
  const more = entry.more;
  if (!more) {
    entry.more = [key, json];
    return;
  }
  for (let i = 0; i < more.length; i += 2) {
    if (more[i] === key) {
      more[i + 1] = json;
      return;
    }
  }
  more.push(key, json);
}

export function unsetField(entry: Entry, key: string): void {
  const more = entry.more;
  if (entry.key === key) {
    // The next key moves up, so the keys keep their order.
    entry.key = more?.[0];
    entry.json = more?.[1] ?? '';
    if (more) more.splice(0, 2);
  } else if (more) {
    for (let i = 0; i < more.length; i += 2) {
      if (more[i] === key) {
        more.splice(i, 2);
        break;
      }
    }
  }
  if (more?.length === 0) entry.more = undefined;
}
