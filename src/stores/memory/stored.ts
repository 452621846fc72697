/**
 * How MemoryStore holds one value of a session: the JSON text for what could be mutated, the
 * value itself for what cannot.
 */
import { deepFreeze } from '../../data.js';
import { type JsonValue, USER_BINDING_KEY } from '../../types.js';

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
