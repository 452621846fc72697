import { assertJsonValue, assertValidKey, EXPRESS_KEY } from '../data.js';
import { InvalidSessionDataError } from '../errors.js';
import type { JsonValue, SessionRecord } from '../types.js';

/**
 * How an express-session session maps onto a session-store-js record. A record holds the
 * session's data keys as they are, plus one reserved key holding express-session's cookie
 * without `expires` (the record's own expiry is the truth, so `expires` is recomputed from it on
 * every read) and, for an id outside the strict id pattern, the original id.
 */

/** express-session's cookie as stored: its attributes; `expires: null` marks a browser-session cookie. */
export interface StoredCookie {
  originalMaxAge?: number | null;
  partitioned?: boolean;
  priority?: string;
  secure?: boolean;
  httpOnly?: boolean;
  domain?: string;
  path?: string;
  sameSite?: boolean | string;
  expires?: null;
}

/** The reserved entry of a record written through the adapter. */
export interface ExpressEntry {
  cookie: StoredCookie;
  /** The session id express-session knows, when it is not the store's id. */
  id?: string;
}

/** Attribute order of the stored cookie: fixed, so equal cookies are equal JSON. */
export const COOKIE_KEYS = [
  'originalMaxAge',
  'partitioned',
  'priority',
  'secure',
  'httpOnly',
  'domain',
  'path',
  'sameSite',
] as const;

/** The stored form of a cookie as JSON gives it (`expires` an ISO string, `null` or absent). */
export function storedCookie(cookie: unknown): StoredCookie {
  const out: Record<string, unknown> = {};
  if (cookie === null || typeof cookie !== 'object') return out;
  const source = cookie as Record<string, unknown>;
  for (const key of COOKIE_KEYS) {
    const value = source[key];
    if (value !== undefined) out[key] = value;
  }
  if (source.expires === null || source.expires === undefined) out.expires = null;
  return out;
}

/**
 * The record entries of a session given as JSON (`JSON.parse(JSON.stringify(session))`): its data
 * keys, and the reserved entry built from its `cookie` and, when given, the original id.
 */
export function entriesOf(
  json: Record<string, unknown>,
  originalId?: string,
): Map<string, unknown> {
  const entries = new Map<string, unknown>();
  for (const key of Object.keys(json)) {
    if (key !== 'cookie') entries.set(key, json[key]);
  }
  const express: ExpressEntry = { cookie: storedCookie(json.cookie) };
  if (originalId !== undefined) express.id = originalId;
  entries.set(EXPRESS_KEY, express);
  return entries;
}

/** Values are already JSON after the round trip; the stores enforce their own size limits. */
const NO_SIZE_LIMIT = Number.MAX_SAFE_INTEGER;

/** The session as JSON, as every express-session store writes it; refuses what JSON can't hold. */
export function toJson(session: object): Record<string, unknown> & { cookie?: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(JSON.stringify(session));
  } catch (error) {
    throw new InvalidSessionDataError(
      `session must be JSON-serializable (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InvalidSessionDataError('session must be an object');
  }
  for (const key of Object.keys(json)) {
    if (key === 'cookie') continue;
    assertValidKey(key);
    assertJsonValue((json as Record<string, unknown>)[key], NO_SIZE_LIMIT);
  }
  return json as Record<string, unknown>;
}

/** The record data of `entries`. */
export function dataOf(entries: Map<string, unknown>): Record<string, JsonValue> {
  const data: Record<string, JsonValue> = Object.create(null);
  for (const [key, value] of entries) data[key] = value as JsonValue;
  return data;
}

/** The reserved entry of a record, when it has a usable one. */
export function expressEntry(record: SessionRecord): ExpressEntry | undefined {
  const entry = record.data[EXPRESS_KEY];
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const cookie = (entry as { cookie?: unknown }).cookie;
  if (cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) return undefined;
  return entry as unknown as ExpressEntry;
}
