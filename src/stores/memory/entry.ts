/**
 * How MemoryStore holds one session: a fixed-shape entry with one stored value per key, and the
 * functions that read and change those keys.
 */
import { deepFreeze } from '../../data.js';
import { type JsonValue, USER_BINDING_KEY } from '../../types.js';
import type { HeapEntry } from './expiry-heap.js';

/**
 * A value as the store holds it: a string is the JSON text of the value (a string, object or
 * array: a copy nobody outside can mutate); numbers, booleans and null are the value itself.
 * Those are immutable and hold no other memory, so reading them back costs no `JSON.parse` and
 * writing them no `JSON.stringify`, and they read back exactly as JSON would have carried them.
 * Strings are immutable too but are copied all the same: V8 may represent a caller's string as a
 * slice of a larger one (a request body), which the store would then keep alive.
 */
export type Stored = string | number | boolean | null | FrozenJson;

/**
 * A deep-frozen JSON object, read back as it is: only the user binding is kept so. Every request
 * of a signed-in user reads it (for its user and epoch), and parsing it again each time was most
 * of what a bound session's load cost over an unbound one. Frozen, it is as much a copy nobody
 * can mutate as the JSON text, and readers share it without copying.
 */
export type FrozenJson = { readonly [key: string]: JsonValue };

/** `value` as stored under `key` (see `encode`; the user binding is kept frozen). */
export function encodeField(key: string, value: unknown): Stored | undefined {
  if (
    key !== USER_BINDING_KEY ||
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value)
  )
    return encode(value);
  // Through JSON, as every other value: the same refusals, and only what JSON carries.
  return deepFreeze(JSON.parse(JSON.stringify(value)) as JsonValue) as FrozenJson;
}

/**
 * `value` as stored, or `undefined` for what JSON drops (`undefined`, functions, symbols); the
 * values JSON refuses (a BigInt, a cycle) throw, as `JSON.stringify` does.
 */
export function encode(value: unknown): Stored | undefined {
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      // As JSON carries them: NaN and ±Infinity become null, -0 becomes 0.
      return Number.isFinite(value) ? value + 0 : null;
    case 'object':
      if (value === null) return null;
  }
  return JSON.stringify(value);
}

/** A fresh copy of a stored value (a frozen one as it is: nobody can change it). */
export function decodeValue(stored: Stored): JsonValue {
  return typeof stored === 'string' ? (JSON.parse(stored) as JsonValue) : (stored as JsonValue);
}

/**
 * One session. A class, so every entry has one fixed shape with in-object fields (no dictionary,
 * no per-entry array for the common one-key session). The data is one `Stored` value per key: a
 * copy nobody outside can mutate, and a `set` of one key re-encodes only that key's value.
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
  /** `key`'s value. */
  value: Stored = null;
  /** Further keys as `[key, value, key, value, …]`, or `undefined` when there are none. */
  more: Stored[] | undefined = undefined;
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
  data[entry.key] = decodeValue(entry.value);
  const more = entry.more;
  if (more) {
    for (let i = 0; i < more.length; i += 2) {
      data[more[i] as string] = decodeValue(more[i + 1] as Stored);
    }
  }
  return data;
}

export function setField(entry: Entry, key: string, value: Stored): void {
  if (entry.key === key || entry.key === undefined) {
    entry.key = key;
    entry.value = value;
    return;
  }
  const more = entry.more;
  if (!more) {
    entry.more = [key, value];
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

export function unsetField(entry: Entry, key: string): void {
  const more = entry.more;
  if (entry.key === key) {
    // The next key moves up, so the keys keep their order.
    entry.key = more?.[0] as string | undefined;
    entry.value = (more?.[1] as Stored | undefined) ?? null;
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
