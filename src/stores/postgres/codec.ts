/**
 * Session data ↔ the JSON text PostgreSQL stores. `jsonb` (and `text`) refuse two things a
 * JavaScript string may hold: U+0000 and lone surrogates. Such a top-level key is stored as
 * `$ssjs:k:<JSON of the key>` (plain ASCII escapes), such a value as `{"$ssjs:json": "<its
 * JSON text>"}`; keys starting with `$ssjs:` and values shaped like that wrapper are escaped the
 * same way, so decoding is exact. Everything else is stored as plain JSON that other programs
 * (and SQL) can read.
 */
import { InvalidSessionDataError } from '../../errors.js';
import type { JsonValue } from '../../types.js';

/** Prefix of keys this library reserves inside a stored object. */
export const RESERVED_PREFIX = '$ssjs:';
const KEY_ESCAPE = '$ssjs:k:';
const WRAP = '$ssjs:json';
/** `\u0000` or a surrogate escape: JSON.stringify escapes exactly the lone surrogates. */
const UNSTORABLE_JSON = /\\u(?:0000|d[89a-f])/i;
const UNSTORABLE_TEXT = /[\0\p{Cs}]/u;

/**
 * The stored form of one top-level key; `reserved` forces the escaped form (for a key that a
 * layout reserves, such as `cookie` in connect-pg-simple's table).
 */
export function encodeKey(key: string, reserved = false): string {
  if (reserved || key.startsWith(RESERVED_PREFIX) || UNSTORABLE_TEXT.test(key)) {
    return KEY_ESCAPE + JSON.stringify(key);
  }
  return key;
}

/** The JSON text of one top-level value, wrapped when PostgreSQL could not store it as is. */
export function encodeValue(value: unknown): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidSessionDataError(
      `session data must be JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (json === undefined) return undefined;
  if (UNSTORABLE_JSON.test(json) || looksWrapped(value)) return JSON.stringify({ [WRAP]: json });
  return json;
}

/**
 * Appends `"key":value` pairs for every key of `data` to `parts`, encoded; `escapeKey` picks
 * keys a layout reserves, which are stored escaped.
 */
export function pushEntries(
  parts: string[],
  data: Record<string, unknown> | undefined,
  escapeKey: (key: string) => boolean = () => false,
): void {
  if (data === undefined || data === null) return;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidSessionDataError('session data must be an object');
  }
  for (const key of Object.keys(data)) {
    const json = encodeValue(data[key]);
    if (json === undefined) continue;
    parts.push(`${JSON.stringify(encodeKey(key, escapeKey(key)))}:${json}`);
  }
}

/** `{…}` of the encoded entries of `data`. */
export function encodeObject(data: Record<string, unknown> | undefined): string {
  const parts: string[] = [];
  pushEntries(parts, data);
  return `{${parts.join(',')}}`;
}

/** The stored names of `keys`, for `data - $keys`. */
export function encodeKeys(
  keys: readonly string[] | undefined,
  escapeKey: (key: string) => boolean = () => false,
): string[] {
  if (keys === undefined || keys === null) return [];
  if (!Array.isArray(keys)) throw new InvalidSessionDataError('unset must be an array of keys');
  return keys.map((key) => {
    if (typeof key !== 'string') throw new InvalidSessionDataError('unset keys must be strings');
    return encodeKey(key, escapeKey(key));
  });
}

/**
 * A stored object → null-prototype session data, or `undefined` when it is not an object or an
 * escape is malformed. Keys under {@link RESERVED_PREFIX} that are not escapes (a layout's own
 * fields) and the keys in `skip` are left out.
 */
export function decodeObject(
  stored: unknown,
  skip?: string,
): Record<string, JsonValue> | undefined {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored)) return undefined;
  const data = Object.create(null) as Record<string, JsonValue>;
  try {
    for (const [storedKey, storedValue] of Object.entries(stored as Record<string, unknown>)) {
      if (storedKey === skip) continue;
      let key = storedKey;
      if (storedKey.startsWith(RESERVED_PREFIX)) {
        if (!storedKey.startsWith(KEY_ESCAPE)) continue;
        key = JSON.parse(storedKey.slice(KEY_ESCAPE.length)) as string;
        if (typeof key !== 'string') return undefined;
      }
      let value = storedValue as JsonValue;
      if (looksWrapped(value)) {
        const inner = (value as Record<string, unknown>)[WRAP];
        if (typeof inner !== 'string') return undefined;
        value = JSON.parse(inner) as JsonValue;
      }
      data[key] = value;
    }
  } catch {
    return undefined;
  }
  return data;
}

/** An object whose only key is the wrapper key. */
function looksWrapped(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  if (!Object.hasOwn(value, WRAP)) return false;
  for (const key in value) if (key !== WRAP) return false;
  return true;
}

/** A time column (bigint as string, number or BigInt) → ms, or NaN when it is not a sane one. */
export function toMillis(value: unknown): number {
  const n = typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
  const ms = typeof n === 'bigint' ? Number(n) : n;
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 ? ms : Number.NaN;
}

/** A finite ms time given by the caller (createdAt, expiresAt), floored. */
export function checkTime(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidSessionDataError(`${name} must be a finite number of milliseconds`);
  }
  return Math.floor(value);
}
