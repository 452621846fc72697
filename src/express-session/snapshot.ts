import { EXPRESS_KEY } from '../data.js';
import type { JsonValue } from '../types.js';

/**
 * How an express-session session maps onto a session-store-js record, and the per-load
 * snapshot that turns express-session's whole-object `set` into a key-level update.
 *
 * A record holds the session's data keys as they are, plus one reserved key holding
 * express-session's cookie without `expires` (the record's own expiry is the truth, so
 * `expires` is recomputed from it on every read) and, for an id outside the strict id pattern,
 * the original id.
 */

/**
 * Where a loaded session keeps what it looked like when it was read: key → JSON text. A
 * registered symbol, so the ESM and the CommonJS build of this package (both may be loaded in
 * one app) see the same property. Non-enumerable: no store and no JSON ever sees it.
 */
export const SNAPSHOT: unique symbol = Symbol.for('session-store-js.express-session.snapshot');

/** Key → JSON text of each entry of a record, as it was loaded or last written. */
export type Snapshot = ReadonlyMap<string, string>;

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
const COOKIE_KEYS = [
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

/** Key → JSON text of `entries`. */
export function snapshotOf(entries: ReadonlyMap<string, unknown>): Snapshot {
  const snapshot = new Map<string, string>();
  for (const [key, value] of entries) snapshot.set(key, JSON.stringify(value));
  return snapshot;
}

/** Records what `session` looked like when loaded or last written. */
export function attachSnapshot(session: object, snapshot: Snapshot): void {
  Object.defineProperty(session, SNAPSHOT, {
    value: snapshot,
    configurable: true,
    enumerable: false,
    writable: true,
  });
}

/** The snapshot of a loaded session, or `undefined` for a new one. */
export function snapshotFrom(session: object): Snapshot | undefined {
  return (session as { [SNAPSHOT]?: Snapshot })[SNAPSHOT];
}

/** The changes that turn `before` into `entries`: keys whose JSON differs, and keys gone. */
export function diff(
  before: Snapshot,
  entries: ReadonlyMap<string, unknown>,
  after: Snapshot,
): { set: Record<string, JsonValue>; unset: string[]; changed: boolean } {
  const set: Record<string, JsonValue> = Object.create(null);
  const unset: string[] = [];
  let changed = false;
  for (const [key, text] of after) {
    if (before.get(key) !== text) {
      set[key] = entries.get(key) as JsonValue;
      changed = true;
    }
  }
  for (const key of before.keys()) {
    if (!after.has(key)) {
      unset.push(key);
      changed = true;
    }
  }
  return { set, unset, changed };
}
