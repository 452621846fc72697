import { assertJsonValue, assertValidKey, EXPRESS_KEY } from '../data.js';
import { InvalidSessionDataError } from '../errors.js';
import type { JsonValue } from '../types.js';
import { parseIso } from './date-text.js';
import {
  COOKIE_KEYS,
  type ExpressEntry,
  type StoredCookie,
  storedCookie,
} from './record-mapping.js';

/**
 * The per-load snapshot that turns express-session's whole-object `set` into a key-level
 * update: what each record entry looked like when the session was read, and the diff against it.
 *
 * A snapshot keeps a primitive value as it is (compared with `===`, no serialization) and an
 * object value as its JSON text, so the common session of numbers and strings is diffed without
 * a `JSON.stringify` per key, and never with a round trip of the whole session.
 */

/**
 * Where a loaded session keeps what it looked like when it was read. A registered symbol, so
 * the ESM and the CommonJS build of this package (both may be loaded in one app) see the same
 * property. Non-enumerable: no store and no JSON ever sees it.
 */
export const SNAPSHOT: unique symbol = Symbol.for('session-store-js.express-session.snapshot');

/** The JSON text of an object value (a class, so it can't be mistaken for a string value). */
class JsonText {
  constructor(readonly text: string) {}
}

/** The reserved entry as loaded: the stored cookie's attributes and the original id. */
class ExpressSnapshot {
  constructor(
    readonly cookie: StoredCookie,
    readonly id: string | undefined,
  ) {}

  /** The reserved entry as it is written. */
  entry(): ExpressEntry {
    return this.id === undefined ? { cookie: this.cookie } : { cookie: this.cookie, id: this.id };
  }

  /** Same attributes (compared one by one: each is a JSON primitive) and the same id. */
  equals(other: ExpressSnapshot): boolean {
    if (this.id !== other.id) return false;
    const a = this.cookie as Record<string, unknown>;
    const b = other.cookie as Record<string, unknown>;
    for (const key of COOKIE_KEYS) if (a[key] !== b[key]) return false;
    return a.expires === b.expires;
  }
}

/** One entry as loaded: a JSON primitive as it is, an object as its JSON text. */
type Entry = string | number | boolean | null | JsonText | ExpressSnapshot;

/** Key → entry of a record, as it was loaded or last written. */
export type Snapshot = ReadonlyMap<string, Entry>;

/** Values are already JSON here; the stores enforce their own size limits. */
const NO_SIZE_LIMIT = Number.MAX_SAFE_INTEGER;

function isPlainPrimitive(value: unknown): value is string | boolean | number | null {
  const type = typeof value;
  return (
    value === null ||
    type === 'string' ||
    type === 'boolean' ||
    (type === 'number' && Number.isFinite(value))
  );
}

/** The entry of a value that is already JSON (read from a store). */
function entryOfJson(value: unknown): Entry {
  return isPlainPrimitive(value) ? value : new JsonText(JSON.stringify(value));
}

/**
 * The snapshot of a session as a store gave it (JSON: data keys plus `cookie`), with the
 * original id for an id the store keeps under another name.
 */
export function snapshotOfStored(stored: Record<string, unknown>, originalId?: string): Snapshot {
  const snapshot = new Map<string, Entry>();
  for (const key of Object.keys(stored)) {
    if (key !== 'cookie') snapshot.set(key, entryOfJson(stored[key]));
  }
  snapshot.set(EXPRESS_KEY, new ExpressSnapshot(storedCookie(stored.cookie), originalId));
  return snapshot;
}

/** Records what `session` looked like when loaded. */
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

/** A session read against its snapshot: what to write, and how the snapshot changes with it. */
export interface SessionChangeSet {
  /** Changed (or, without a snapshot, all) keys with their JSON values, the reserved entry included. */
  set: Record<string, JsonValue>;
  /** Keys of the snapshot the session no longer has. */
  unset: string[];
  changed: boolean;
  /** When the session's cookie expires (ms), `NaN` for a browser-session cookie. */
  expires: number;
  /** The new entries of the keys in `set`. */
  entries: Array<[string, Entry]>;
}

/**
 * Reads `session` (a `Session`, as express-session or the drop-in built it) the way
 * `JSON.parse(JSON.stringify(session))` would, key by key: only keys whose JSON differs from
 * `before` are serialized into `set` and checked; without `before`, every key is. Refuses what
 * JSON can't hold with an `InvalidSessionDataError`, as a whole-session round trip would.
 */
export function readChanges(
  session: object,
  before: Snapshot | undefined,
  originalId: string | undefined,
): SessionChangeSet {
  const source = session as Record<string, unknown>;
  const set: Record<string, JsonValue> = Object.create(null);
  const entries: Array<[string, Entry]> = [];
  const unset: string[] = [];
  let cookie: unknown;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (key === 'cookie') {
      cookie = value;
      continue;
    }
    const old = before?.get(key);
    if (isPlainPrimitive(value)) {
      if (old === value) continue;
      assertValidKey(key);
      set[key] = value;
      entries.push([key, value]);
      continue;
    }
    const text = serialize(value);
    // `undefined`, functions and symbols have no JSON: the key is absent, as in the JSON of the whole.
    if (text === undefined) {
      if (old !== undefined) unset.push(key);
      continue;
    }
    if (old instanceof JsonText && old.text === text) continue;
    const json = JSON.parse(text) as JsonValue;
    // A value whose JSON is a primitive (a Date, NaN) compares as that primitive.
    if (old !== undefined && old === json) continue;
    assertValidKey(key);
    assertJsonValue(json, NO_SIZE_LIMIT);
    set[key] = json;
    entries.push([key, entryOfJson(json)]);
  }
  const { stored, expires } = readCookie(cookie);
  const express = new ExpressSnapshot(stored, originalId);
  const old = before?.get(EXPRESS_KEY);
  if (!(old instanceof ExpressSnapshot && old.equals(express))) {
    set[EXPRESS_KEY] = express.entry() as unknown as JsonValue;
    entries.push([EXPRESS_KEY, express]);
  }
  if (before !== undefined) {
    for (const key of before.keys()) {
      if (key !== EXPRESS_KEY && !Object.prototype.propertyIsEnumerable.call(source, key)) {
        unset.push(key);
      }
    }
  }
  return { set, unset, changed: entries.length > 0 || unset.length > 0, expires, entries };
}

/**
 * Records `changes` as written: the loaded session's snapshot is updated in place, a new
 * session gets its first one.
 */
export function commitSnapshot(
  session: object,
  before: Snapshot | undefined,
  changes: SessionChangeSet,
): void {
  const snapshot = (before as Map<string, Entry> | undefined) ?? new Map<string, Entry>();
  for (const [key, entry] of changes.entries) snapshot.set(key, entry);
  for (const key of changes.unset) snapshot.delete(key);
  if (before === undefined) attachSnapshot(session, snapshot);
}

/** `JSON.stringify(value)`, refusing what JSON can't hold with a typed error. */
function serialize(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new InvalidSessionDataError(
      `session must be JSON-serializable (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** `value` as JSON gives it back (`undefined` when it has no JSON). */
function roundTrip(value: unknown): unknown {
  const text = serialize(value);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * A session's `cookie` as `JSON.parse(JSON.stringify(cookie))` would give it, without the round
 * trip: its stored attributes, and its expiry in ms (`NaN` when it has none that JSON keeps).
 */
function readCookie(cookie: unknown): { stored: StoredCookie; expires: number } {
  if (cookie === null || typeof cookie !== 'object') {
    return { stored: storedCookie(roundTrip(cookie)), expires: Number.NaN };
  }
  const toJSON = (cookie as { toJSON?: unknown }).toJSON;
  const data = (typeof toJSON === 'function' ? toJSON.call(cookie) : cookie) as Record<
    string,
    unknown
  >;
  if (data === null || typeof data !== 'object') {
    return { stored: storedCookie(roundTrip(data)), expires: Number.NaN };
  }
  const stored: Record<string, unknown> = {};
  for (const key of COOKIE_KEYS) {
    const value = jsonOf(data[key]);
    if (value !== undefined) stored[key] = value;
  }
  const raw = data.expires;
  const expires =
    raw instanceof Date ? raw.getTime() : typeof raw === 'string' ? parseIso(raw) : Number.NaN;
  // An expiry JSON can't keep (none, an invalid Date) marks a browser-session cookie.
  if (raw === null || raw === undefined || (raw instanceof Date && Number.isNaN(expires))) {
    stored.expires = null;
  }
  return { stored, expires };
}

/** What JSON makes of one attribute value: primitives as they are, non-finite numbers `null`. */
function jsonOf(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    default:
      return roundTrip(value);
  }
}
