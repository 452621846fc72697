import { InvalidSessionDataError, SessionTooLargeError } from './errors.js';
import { type JsonValue, USER_BINDING_KEY } from './types.js';

/**
 * Session data is JSON: what `set` accepts must come back from the store exactly as it went in.
 * Anything that would not (BigInt, functions, symbols, `undefined` inside objects, NaN/Infinity,
 * Dates, Maps, class instances, cycles) is refused up front with a typed error, before the store
 * is touched, so the stored session keeps its previous value.
 */

/** Keys that could reach an object's prototype if some code ever merged session data. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The data key under which a session written through the express-session adapter keeps
 * express-session's cookie (and the original id when it is outside the strict id pattern). The
 * manager never returns it from `get` and refuses to `set` it, so one store can serve both APIs.
 */
export const EXPRESS_KEY = '__ssjs_express';

/** How deep a value may nest; deeper input is refused instead of overflowing the stack. */
const MAX_DEPTH = 64;
/** Longest accepted key. */
const MAX_KEY_LENGTH = 256;

/** Throws unless `key` is a usable session key. */
export function assertValidKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidSessionDataError(`session key must be a string, got ${typeof key}`);
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new InvalidSessionDataError(`session key must have 1 to ${MAX_KEY_LENGTH} characters`);
  }
  if (RESERVED_KEYS.has(key) || key === USER_BINDING_KEY || key === EXPRESS_KEY) {
    throw new InvalidSessionDataError(`session key "${key}" is reserved`);
  }
}

/**
 * Throws unless `value` is a JSON value that round-trips, within `maxBytes` bytes of UTF-8 JSON.
 * Cheap for small values: it walks the value once computing an upper bound of the JSON size, and
 * only serializes it when that bound passes the limit.
 */
export function assertJsonValue(value: unknown, maxBytes: number): void {
  const bound = walk(value, 0, undefined, 'value');
  if (bound > maxBytes) {
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > maxBytes) {
      throw new SessionTooLargeError(
        `session value is ${size} bytes of JSON, over the limit of ${maxBytes} (option maxValueBytes)`,
      );
    }
  }
}

/**
 * `ancestors` holds the objects on the path to `value` (the cycle check); it is created at the
 * first object, so a primitive value costs no allocation.
 */
function walk(
  value: unknown,
  depth: number,
  ancestors: Set<object> | undefined,
  path: string,
): number {
  switch (typeof value) {
    case 'string':
      // Upper bound: JSON escapes a UTF-16 unit into at most 6 bytes (`\u001f`).
      return value.length * 6 + 2;
    case 'boolean':
      return 5;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `a non-finite number (${value})`);
      return 24;
    case 'object':
      break;
    default:
      return fail(path, `a ${typeof value}`);
  }
  if (value === null) return 4;
  if (depth >= MAX_DEPTH) fail(path, `nested deeper than ${MAX_DEPTH} levels`);
  ancestors ??= new Set();
  if (ancestors.has(value)) fail(path, 'a circular reference');
  ancestors.add(value);
  let size = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) fail(`${path}[${i}]`, 'a hole in an array');
      size += walk(value[i], depth + 1, ancestors, `${path}[${i}]`) + 1;
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      fail(path, `an instance of ${proto?.constructor?.name ?? 'a class'} (only plain objects)`);
    }
    if (Object.getOwnPropertySymbols(value).length > 0) fail(path, 'an object with symbol keys');
    for (const key of Object.keys(value)) {
      if (RESERVED_KEYS.has(key)) fail(path, `the reserved key "${key}"`);
      size +=
        key.length * 6 +
        4 +
        walk((value as Record<string, unknown>)[key], depth + 1, ancestors, `${path}.${key}`);
    }
  }
  ancestors.delete(value);
  return size;
}

function fail(path: string, what: string): never {
  throw new InvalidSessionDataError(`session ${path} is ${what}, which JSON cannot store`);
}

/** Freezes `value` and everything in it; returns it. */
export function deepFreeze(value: JsonValue): JsonValue {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The user a session's data is bound to (its binding under `USER_BINDING_KEY`), if any. */
export function boundUserOf(data: Record<string, JsonValue>): string | undefined {
  const binding = data[USER_BINDING_KEY] as { id?: unknown } | null | undefined;
  return typeof binding?.id === 'string' ? binding.id : undefined;
}

/** The epoch of a session's binding, if it has one. */
export function boundEpochOf(data: Record<string, JsonValue>): number | undefined {
  const epoch = (data[USER_BINDING_KEY] as { epoch?: unknown } | null | undefined)?.epoch;
  return typeof epoch === 'number' && Number.isFinite(epoch) ? epoch : undefined;
}

/**
 * The keys of `data` a regenerate carries over: every own key for `true`, else the listed ones
 * that `data` has, never the internal keys (see `isCarried`). A fresh null-prototype object.
 */
export function pickKeys(
  data: Record<string, JsonValue>,
  keep: true | readonly string[],
): Record<string, JsonValue> {
  const picked: Record<string, JsonValue> = Object.create(null);
  const keys = keep === true ? Object.keys(data) : keep;
  for (const key of keys) {
    if (isCarried(key) && Object.hasOwn(data, key)) picked[key] = data[key] as JsonValue;
  }
  return picked;
}

/**
 * Whether a regenerate may carry `key` over: not the user binding (the new session gets its
 * own) nor the express-session adapter's cookie (not application data).
 */
export function isCarried(key: string): boolean {
  return key !== USER_BINDING_KEY && key !== EXPRESS_KEY;
}
