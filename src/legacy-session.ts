/**
 * express-session's stored session object ↔ our `SessionRecord`.
 *
 * express-session stores a session as its data keys plus a `cookie` object (`expires` as a Date
 * or an ISO string, `null` for a browser-session cookie; `originalMaxAge` in ms; `path`,
 * `httpOnly`, …). Stores derive their TTL from different fields of it, so a session written for
 * them carries all of them: `expires` (connect-redis, connect-pg-simple, express-session's
 * MemoryStore), `originalMaxAge` (session-file-store, from its `__lastAccess`) and a numeric
 * `maxAge` (memorystore; not enumerable, so it is never serialized).
 */
import { assertJsonValue, assertValidKey } from './data.js';
import { InvalidSessionDataError } from './errors.js';
import type { JsonValue, SessionRecord } from './types.js';

/**
 * Where our `createdAt` lives inside an express-session object, so the absolute lifetime cap
 * survives a round trip through an express-session store.
 */
export const CREATED_AT_KEY = '__createdAt';

/** Keys that are the stores' bookkeeping, not application data: never returned as data. */
const BOOKKEEPING = new Set(['cookie', CREATED_AT_KEY, '__lastAccess']);

/** Cookie attributes written into sessions this library creates in an express-session store. */
export interface LegacyCookieOptions {
  /** @default '/' */
  path?: string;
  /** @default true */
  httpOnly?: boolean;
  /** @default undefined (not set) */
  secure?: boolean;
  /** @default undefined (not set) */
  domain?: string;
  /** @default undefined (not set) */
  sameSite?: boolean | 'lax' | 'strict' | 'none';
}

/** A stored express-session object read as a record, and the data keys that had to be dropped. */
export interface LegacyRead {
  record: SessionRecord;
  /** One line per dropped key (`"key": why`), without values. */
  dropped: string[];
}

/**
 * Reads a stored express-session object at `now`: `'invalid'` when it is not a session object or
 * its `cookie.expires` is unreadable, `'expired'` when that time has passed (whether or not the
 * store checks it), else the record. A session without an expiry (a browser-session cookie)
 * lives `ttl` ms from `now`. `createdAt` comes from {@link CREATED_AT_KEY} when a previous write
 * stored it, else from the last time the cookie was renewed (`expires − originalMaxAge`), else
 * `now`. Data keys that are reserved or hold values JSON can't store are dropped and listed in
 * `dropped`; the rest is copied into a null-prototype object.
 */
export function fromLegacySession(
  value: unknown,
  now: number,
  ttl: number,
): LegacyRead | 'invalid' | 'expired' {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'invalid';
  const session = value as Record<string, unknown>;
  const cookie = session.cookie;
  const cookieFields =
    cookie !== null && typeof cookie === 'object' ? (cookie as Record<string, unknown>) : {};
  const expires = cookieFields.expires;
  const expiresAt = expires === undefined || expires === null ? now + ttl : timeOf(expires);
  if (Number.isNaN(expiresAt)) return 'invalid';
  if (expiresAt <= now) return 'expired';
  const data: Record<string, JsonValue> = Object.create(null);
  const dropped: string[] = [];
  for (const key of Object.keys(session)) {
    if (BOOKKEEPING.has(key)) continue;
    try {
      assertValidKey(key);
      assertJsonValue(session[key], Number.POSITIVE_INFINITY);
      data[key] = session[key] as JsonValue;
    } catch (error) {
      dropped.push(`"${key.slice(0, 64)}": ${(error as Error).message}`);
    }
  }
  const createdAt = createdAtOf(session, cookieFields, expiresAt, now);
  return { record: { data, createdAt, expiresAt }, dropped };
}

/**
 * The express-session object to store for `record`: its data, `createdAt` under
 * {@link CREATED_AT_KEY}, and a `cookie` whose `expires` is `record.expiresAt` (attributes from
 * `cookie`, e.g. the cookie the session was stored with). Reserved keys are left out; the keys
 * `cookie` and {@link CREATED_AT_KEY} can't be data here, since they would overwrite the stores'
 * bookkeeping: `InvalidSessionDataError`.
 */
export function toLegacySession(
  record: SessionRecord,
  now: number,
  cookie: object | undefined,
): Record<string, unknown> {
  const session: Record<string, unknown> = {};
  for (const key of Object.keys(record.data)) {
    assertWritableKey(key);
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    session[key] = record.data[key];
  }
  session[CREATED_AT_KEY] = record.createdAt;
  session.cookie = legacyCookie(record.expiresAt, now, cookie);
  return session;
}

/** Throws unless `key` can be stored as data in an express-session object. */
export function assertWritableKey(key: string): void {
  if (BOOKKEEPING.has(key)) {
    throw new InvalidSessionDataError(
      `session key "${key}" is reserved in express-session stores (it holds the store's bookkeeping)`,
    );
  }
}

/** A cookie object that every express-session store reads its TTL from correctly. */
function legacyCookie(expiresAt: number, now: number, base: object | undefined): object {
  const cookie: Record<string, unknown> = { path: '/', httpOnly: true };
  if (base) {
    for (const [key, value] of Object.entries(base)) {
      // `_expires` is what spreading a live express-session Cookie gives; `maxAge` is computed.
      if (key !== '_expires' && key !== 'maxAge' && key !== 'data') cookie[key] = value;
    }
  }
  cookie.originalMaxAge = Math.max(0, expiresAt - now);
  cookie.expires = new Date(expiresAt).toISOString();
  Object.defineProperty(cookie, 'maxAge', {
    get: () => expiresAt - Date.now(),
    enumerable: false,
  });
  return cookie;
}

/** Milliseconds since the epoch of a Date, an ISO string or a number; NaN when unreadable. */
function timeOf(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return Date.parse(value);
  if (typeof value === 'number') return value;
  return Number.NaN;
}

function createdAtOf(
  session: Record<string, unknown>,
  cookie: Record<string, unknown>,
  expiresAt: number,
  now: number,
): number {
  const stored = session[CREATED_AT_KEY];
  if (typeof stored === 'number' && Number.isFinite(stored)) return stored;
  const originalMaxAge = cookie.originalMaxAge;
  if (typeof originalMaxAge === 'number' && originalMaxAge > 0 && cookie.expires != null) {
    const renewedAt = expiresAt - originalMaxAge;
    if (renewedAt <= now) return renewedAt;
  }
  return now;
}
