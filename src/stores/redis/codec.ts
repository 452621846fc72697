/**
 * Encoding of a session as a Redis hash and decoding of Redis replies, for RedisStore.
 * Layout: `c` = createdAt, `e` = expiresAt (ms since the epoch, decimal), `u` = the user index of
 * a bound session (see user-index.ts), `d:<key>` = the JSON of one session key. A key with a
 * lone surrogate, which UTF-8 can't carry (two such keys would collapse into one field), is
 * stored as `j:<JSON of the key>` instead. Replies are accepted in every shape the supported
 * clients produce.
 */
import { setBounded } from '../../bounded-map.js';
import { deepFreeze } from '../../data.js';
import { InvalidSessionDataError } from '../../errors.js';
import { type JsonValue, type SessionRecord, USER_BINDING_KEY } from '../../types.js';
import { toStoreError } from './client.js';

/** The hash field of the user binding. */
export const BINDING_FIELD = `d:${USER_BINDING_KEY}`;

/**
 * User bindings parsed, by their JSON text: every request of a signed-in user loads its binding,
 * and parsing it again was most of what such a load cost over an unbound one. The value is
 * deep-frozen, so every record that shares it holds a copy nobody can change.
 */
const bindings = new Map<string, JsonValue>();
const BINDINGS_KEPT = 4096;

function parseValue(field: string, text: string): JsonValue {
  if (field !== BINDING_FIELD) return JSON.parse(text) as JsonValue;
  let value = bindings.get(text);
  if (value === undefined) {
    value = deepFreeze(JSON.parse(text) as JsonValue);
    setBounded(bindings, text, value, BINDINGS_KEPT);
  }
  return value;
}

/**
 * HGETALL reply → record; `undefined` for an empty reply (no key) or an expired session; a string
 * saying what is wrong for unreadable content. Missing or non-numeric `c`/`e`, or a single `d:`
 * field that is not JSON, make the *whole* session unreadable: dropping only the bad field could
 * drop a flag such as `mfaPending` and grant more than the session had. Fail closed.
 */
export function decodeSession(reply: unknown, now: number): SessionRecord | string | undefined {
  const flat = flatPairs(reply);
  if (flat.length === 0) return undefined;
  let createdAt = Number.NaN;
  let expiresAt = Number.NaN;
  const data = Object.create(null) as Record<string, JsonValue>;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = asString(flat[i]);
    const value = asString(flat[i + 1]);
    if (field === undefined || value === undefined) return 'has a field that is not a string';
    if (field === 'c') createdAt = toTime(value);
    else if (field === 'e') expiresAt = toTime(value);
    else if (field.startsWith('d:') || field.startsWith('j:')) {
      try {
        const key = field[0] === 'd' ? field.slice(2) : (JSON.parse(field.slice(2)) as unknown);
        if (typeof key !== 'string') return 'has a malformed field name';
        data[key] = parseValue(field, value);
      } catch {
        return 'has a field that is not JSON';
      }
    }
  }
  if (Number.isNaN(createdAt) || Number.isNaN(expiresAt)) return 'lacks valid c/e timestamps';
  if (expiresAt <= now) return undefined;
  return { data, createdAt, expiresAt };
}

/** The `u` field of an HGETALL reply (the user index a bound session is in), if any. */
export function indexFieldOf(reply: unknown): string | undefined {
  const flat = flatPairs(reply);
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] === 'u') return asString(flat[i + 1]);
  }
  return undefined;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The hash field of session key `key`. */
export function fieldName(key: string): string {
  return LONE_SURROGATE.test(key) ? `j:${JSON.stringify(key)}` : `d:${key}`;
}

/** Appends `d:<key>`, JSON pairs for the keys of `data`; returns how many pairs were added. */
export function pushFields(args: string[], data: Record<string, JsonValue> | undefined): number {
  if (data === undefined || data === null) return 0;
  if (typeof data !== 'object') throw new InvalidSessionDataError('session data must be an object');
  let n = 0;
  for (const key of Object.keys(data)) {
    const json = JSON.stringify(data[key]);
    if (json === undefined) continue;
    args.push(fieldName(key), json);
    n++;
  }
  return n;
}

export function checkTime(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidSessionDataError(`${name} must be a finite number of milliseconds`);
  }
  return Math.floor(value);
}

function toTime(value: string): number {
  return /^-?\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
}

/**
 * HGETALL replies as `[field, value, field, value, …]`: node-redis (RESP2) and ioredis give that
 * flat array (returned as is, no copy on the hot path); node-redis with RESP3 an object. Both
 * libraries hand `sendCommand`/`call` replies back as strings, never Buffers.
 */
function flatPairs(reply: unknown): readonly unknown[] {
  if (Array.isArray(reply)) return reply;
  if (reply !== null && typeof reply === 'object') return Object.entries(reply).flat();
  return [];
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A user's epoch from a `GET` of its key: 0 when the key is missing or holds no finite number. */
export function epochValue(reply: unknown): number {
  const epoch = reply === null || reply === undefined ? 0 : Number(String(reply));
  return Number.isFinite(epoch) ? epoch : 0;
}

/** A reply part as text. */
export function asText(value: unknown): string {
  return String(value);
}

export function parseScanReply(reply: unknown): [string, string[]] {
  const cursor = Array.isArray(reply) ? asString(reply[0]) : undefined;
  const keys = Array.isArray(reply) && Array.isArray(reply[1]) ? reply[1] : undefined;
  if (cursor === undefined || keys === undefined) {
    throw toStoreError(new Error('unexpected SCAN reply'));
  }
  return [cursor, keys.map(asString).filter((k): k is string => k !== undefined)];
}

/** Escapes Redis glob metacharacters so the prefix matches literally in `SCAN MATCH`. */
export function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]^-]/g, '\\$&');
}
