import { assertJsonValue, assertValidKey, EXPRESS_KEY } from '../data.js';
import { InvalidSessionDataError } from '../errors.js';
import type { JsonValue } from '../types.js';
import { type ExpressEntry, storedCookie } from './record-mapping.js';

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

/** One entry as loaded: a JSON primitive as it is, an object as its JSON text. */
type Entry = string | number | boolean | null | JsonText;

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

/** The reserved entry's JSON for a cookie as JSON gives it, and the original id when mapped. */
function expressText(cookieJson: unknown, originalId: string | undefined): JsonText {
  const express: ExpressEntry = { cookie: storedCookie(cookieJson) };
  if (originalId !== undefined) express.id = originalId;
  return new JsonText(JSON.stringify(express));
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
  snapshot.set(EXPRESS_KEY, expressText(stored.cookie, originalId));
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

/** A session read against its snapshot: what to write, and the snapshot after writing it. */
export interface SessionChangeSet {
  /** Changed (or, without a snapshot, all) keys with their JSON values, the reserved entry included. */
  set: Record<string, JsonValue>;
  /** Keys of the snapshot the session no longer has. */
  unset: string[];
  changed: boolean;
  /** The session's `cookie` as JSON gives it (`expires` an ISO string or `null`). */
  cookie: Record<string, unknown> | undefined;
  after: Snapshot;
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
  const after = new Map<string, Entry>();
  let changed = false;
  let cookie: Record<string, unknown> | undefined;
  for (const key of Object.keys(source)) {
    const value = source[key];
    if (key === 'cookie') {
      cookie = roundTrip(value) as Record<string, unknown> | undefined;
      continue;
    }
    const old = before?.get(key);
    if (isPlainPrimitive(value)) {
      after.set(key, value);
      if (old === value) continue;
      assertValidKey(key);
      set[key] = value;
      changed = true;
      continue;
    }
    const text = serialize(value);
    // `undefined`, functions and symbols have no JSON: the key is absent, as in the JSON of the whole.
    if (text === undefined) continue;
    if (old instanceof JsonText && old.text === text) {
      after.set(key, old);
      continue;
    }
    const json = JSON.parse(text) as JsonValue;
    // A value whose JSON is a primitive (a Date, NaN) compares as that primitive.
    if (old !== undefined && old === json) {
      after.set(key, old);
      continue;
    }
    assertValidKey(key);
    assertJsonValue(json, NO_SIZE_LIMIT);
    after.set(key, entryOfJson(json));
    set[key] = json;
    changed = true;
  }
  const express = expressText(cookie, originalId);
  const old = before?.get(EXPRESS_KEY);
  if (old instanceof JsonText && old.text === express.text) {
    after.set(EXPRESS_KEY, old);
  } else {
    after.set(EXPRESS_KEY, express);
    set[EXPRESS_KEY] = JSON.parse(express.text) as JsonValue;
    changed = true;
  }
  const unset: string[] = [];
  if (before !== undefined) {
    for (const key of before.keys()) {
      if (!after.has(key)) {
        unset.push(key);
        changed = true;
      }
    }
  }
  return { set, unset, changed, cookie, after };
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
