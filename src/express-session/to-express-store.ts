import { assertJsonValue, assertValidKey, EXPRESS_KEY } from '../data.js';
import {
  InvalidOptionError,
  InvalidSessionDataError,
  SessionCollisionError,
  SessionDestroyedError,
  SessionError,
  StoreUnavailableError,
} from '../errors.js';
import { isSessionStore } from '../stores/create-store.js';
import {
  type JsonValue,
  type SessionRecord,
  type SessionStore,
  USER_BINDING_KEY,
} from '../types.js';
import { storeIdOf } from './id-map.js';
import { requireFromHere } from './optional-require.js';
import {
  attachSnapshot,
  diff,
  type ExpressEntry,
  entriesOf,
  type Snapshot,
  snapshotFrom,
  snapshotOf,
} from './snapshot.js';
import { Store } from './store-base.js';

/**
 * `toExpressStore(store)`: a session-store-js store as express-session's `store`. A subclass of
 * express-session's `Store` (the installed one, or a faithful stand-in when express-session is
 * not installed), with express-session's callback methods. Sessions loaded through it are
 * snapshotted, so express-session's whole-object `set` becomes a key-level `update` of the keys
 * that changed, and a `set` for a session destroyed meanwhile never brings it back.
 */

/** Options of {@link toExpressStore}. */
export interface ToExpressStoreOptions {
  /**
   * Lifetime in ms given to a session whose cookie has no `expires` (a browser-session cookie:
   * express-session's default), and the `originalMaxAge` of a session written by the manager.
   * The store's own bound (`maxAge`, `ttl`) still applies on top of it.
   * @default 86_400_000 (one day)
   */
  maxAge?: number;
  /**
   * What a `set` or `touch` does when the session was destroyed or expired meanwhile (a logout
   * in another request). Nothing is written either way. `'ignore'` calls back without an error,
   * so the request in flight completes normally; `'error'` calls back a
   * `SessionDestroyedError` (express-session then passes it to `next`).
   * @default 'ignore'
   */
  onLostSession?: 'ignore' | 'error';
}

/** A callback of express-session's store interface. */
export type StoreCallback<T = void> = (error?: unknown, value?: T) => void;

/** express-session's cookie as stores hand it back (JSON: `expires` an ISO string or `null`). */
export interface ExpressCookieJson {
  originalMaxAge: number | null;
  /**
   * An ISO date, or `null` for a browser-session cookie. Typed `any` because
   * `@types/express-session` calls it a `Date` while every store returns the JSON string.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see above
  expires?: any;
  path?: string;
  httpOnly?: boolean;
  secure?: boolean;
  domain?: string;
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** Session data as express-session stores it: data keys plus `cookie`. */
export type ExpressSessionData = { [key: string]: unknown; cookie: ExpressCookieJson };

/** What {@link toExpressStore} returns: an express-session store over `store`. */
export interface ExpressSessionStore<S extends SessionStore = SessionStore> extends Store {
  /** The session-store-js store it writes to. */
  readonly store: S;
  /** Calls back the session, or `null` when it is missing or expired. */
  get(sid: string, callback: (error: unknown, session?: ExpressSessionData | null) => void): void;
  /**
   * Writes the session: for a session loaded through this store, only the keys that changed;
   * for a new one, insert-if-absent.
   */
  set(sid: string, session: object, callback?: StoreCallback): void;
  /** Moves the expiry to the session cookie's; never creates a session. */
  touch(sid: string, session: object, callback?: StoreCallback): void;
  destroy(sid: string, callback?: StoreCallback): void;
  /** Every live session, as an object keyed by the ids express-session knows. */
  all(callback: (error: unknown, sessions?: Record<string, ExpressSessionData>) => void): void;
  length(callback: (error: unknown, length?: number) => void): void;
  clear(callback?: StoreCallback): void;
}

/** A constructor of express-session's `Store` (the real one or the stand-in). */
type StoreBase = new () => Store;
type AdapterClass = new <S extends SessionStore>(
  store: S,
  options?: ToExpressStoreOptions,
) => ExpressSessionStore<S>;

const DEFAULT_MAX_AGE = 86_400_000;
/** Values are already JSON after the round trip; the stores enforce their own size limits. */
const NO_SIZE_LIMIT = Number.MAX_SAFE_INTEGER;

/** Wraps `store` as an express-session store. */
export function toExpressStore<S extends SessionStore>(
  store: S,
  options?: ToExpressStoreOptions,
): ExpressSessionStore<S> {
  const Adapter = adapterClass(expressStoreBase());
  return new Adapter(store, options);
}

let installedBase: StoreBase | undefined;

/**
 * express-session's own `Store` when it is installed (so the sessions it builds are its own
 * `Session` and `Cookie`), else the stand-in. Resolved on first use: express-session is an
 * optional peer dependency.
 */
export function expressStoreBase(): StoreBase {
  if (installedBase === undefined) {
    try {
      const expressSession = requireFromHere('express-session') as { Store?: unknown };
      installedBase =
        typeof expressSession.Store === 'function' ? (expressSession.Store as StoreBase) : Store;
    } catch {
      installedBase = Store;
    }
  }
  return installedBase;
}

const adapters = new WeakMap<StoreBase, AdapterClass>();

/** The adapter class over `Base`, made once per base. */
export function adapterClass(Base: StoreBase): AdapterClass {
  let Adapter = adapters.get(Base);
  if (Adapter === undefined) {
    Adapter = defineAdapter(Base) as unknown as AdapterClass;
    adapters.set(Base, Adapter);
  }
  return Adapter;
}

function defineAdapter(Base: StoreBase) {
  return class ExpressStore<S extends SessionStore> extends Base {
    readonly store: S;
    readonly #maxAge: number;
    readonly #strictLoss: boolean;

    constructor(store: S, options: ToExpressStoreOptions = {}) {
      super();
      if (!isSessionStore(store)) {
        throw new InvalidOptionError(
          'store must implement the SessionStore contract (get, create, update, touch, destroy, all, length, clear, close)',
        );
      }
      if (options === null || typeof options !== 'object') {
        throw new InvalidOptionError(`options must be an object (got ${String(options)})`);
      }
      const { maxAge = DEFAULT_MAX_AGE, onLostSession = 'ignore' } = options;
      if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) {
        throw new InvalidOptionError(
          `maxAge must be a positive number of milliseconds (got ${String(maxAge)})`,
        );
      }
      if (onLostSession !== 'ignore' && onLostSession !== 'error') {
        throw new InvalidOptionError(
          `onLostSession must be 'ignore' or 'error' (got ${JSON.stringify(onLostSession)})`,
        );
      }
      this.store = store;
      this.#maxAge = maxAge;
      this.#strictLoss = onLostSession === 'error';
    }

    get(sid: string, callback: StoreCallback<ExpressSessionData | null>): void {
      settle(() => this.#get(sid), callback);
    }

    set(sid: string, session: object, callback?: StoreCallback): void {
      settle(() => this.#set(sid, session), callback);
    }

    touch(sid: string, session: object, callback?: StoreCallback): void {
      settle(() => this.#touch(sid, session), callback);
    }

    destroy(sid: string, callback?: StoreCallback): void {
      settle(() => this.store.destroy(storeIdOf(sid).id), callback);
    }

    all(callback: StoreCallback<Record<string, ExpressSessionData>>): void {
      settle(() => this.#all(), callback);
    }

    length(callback: StoreCallback<number>): void {
      settle(() => this.store.length(), callback);
    }

    clear(callback?: StoreCallback): void {
      settle(() => this.store.clear(), callback);
    }

    /** express-session's `createSession`, plus the snapshot `set` diffs against. */
    // biome-ignore lint/suspicious/noExplicitAny: the base class's type
    override createSession(req: object, stored: object): any {
      const sid = (req as { sessionID?: unknown }).sessionID;
      const original = typeof sid === 'string' && storeIdOf(sid).mapped ? sid : undefined;
      const snapshot = snapshotOf(entriesOf(stored as Record<string, unknown>, original));
      const session = super.createSession(req, stored);
      attachSnapshot(session, snapshot);
      return session;
    }

    async #get(sid: string): Promise<ExpressSessionData | null> {
      const { id, mapped } = storeIdOf(sid);
      const record = await this.store.get(id);
      const now = Date.now();
      if (!record || !(record.expiresAt > now)) return null;
      const express = expressEntry(record);
      // A mapped id must be the one the record was written for; a plain id must not land on a
      // record written for a mapped one.
      if (mapped ? express?.id !== sid : express?.id !== undefined) return null;
      return this.#toSession(record, express);
    }

    #toSession(record: SessionRecord, express: ExpressEntry | undefined): ExpressSessionData {
      const cookie: ExpressCookieJson = express
        ? ({ ...express.cookie } as ExpressCookieJson)
        : { originalMaxAge: this.#maxAge, path: '/', httpOnly: true };
      // The record's expiry is the truth: a touch or a store-side bound moves it.
      cookie.expires = cookie.expires === null ? null : new Date(record.expiresAt).toISOString();
      const session: ExpressSessionData = { cookie };
      for (const key of Object.keys(record.data)) {
        if (key !== EXPRESS_KEY && key !== USER_BINDING_KEY) session[key] = record.data[key];
      }
      return session;
    }

    async #set(sid: string, session: object): Promise<void> {
      const { id, mapped } = storeIdOf(sid);
      const json = toJson(session);
      const now = Date.now();
      const expiresAt = this.#expiryOf(json.cookie, now);
      if (expiresAt <= now) {
        // An already expired cookie: the session ends (as connect-redis does).
        await this.store.destroy(id);
        return;
      }
      const entries = entriesOf(json, mapped ? sid : undefined);
      const after = snapshotOf(entries);
      const before = snapshotFrom(session);
      if (before !== undefined) {
        await this.#update(id, before, entries, after, expiresAt);
      } else if (isSessionObject(session)) {
        const created = await this.store.create(id, {
          data: dataOf(entries),
          createdAt: now,
          expiresAt,
        });
        if (!created) {
          throw new SessionCollisionError(
            'a live session already has this id; a new session never takes over another one (check genid)',
          );
        }
      } else {
        await this.#replace(id, entries, now, expiresAt);
        return;
      }
      attachSnapshot(session, after);
    }

    /** A loaded session: the keys that changed, or only the expiry when none did. */
    async #update(
      id: string,
      before: Snapshot,
      entries: Map<string, unknown>,
      after: Snapshot,
      expiresAt: number,
    ): Promise<void> {
      const { set, unset, changed } = diff(before, entries, after);
      const written = changed
        ? await this.store.update(id, { set, unset }, expiresAt)
        : await this.store.touch(id, expiresAt);
      if (!written && this.#strictLoss) throw new SessionDestroyedError();
    }

    /**
     * A plain object from a direct caller (not a session express-session built): express-session's
     * upsert, as a whole-session replace. Not atomic against concurrent writers.
     */
    async #replace(
      id: string,
      entries: Map<string, unknown>,
      now: number,
      expiresAt: number,
    ): Promise<void> {
      const data = dataOf(entries);
      if (await this.store.create(id, { data, createdAt: now, expiresAt })) return;
      const current = await this.store.get(id);
      const unset = current
        ? Object.keys(current.data).filter((key) => !entries.has(key) && key !== USER_BINDING_KEY)
        : [];
      if (await this.store.update(id, { set: data, unset }, expiresAt)) return;
      await this.store.create(id, { data, createdAt: now, expiresAt });
    }

    async #touch(sid: string, session: object): Promise<void> {
      const { id } = storeIdOf(sid);
      const cookie = (session as { cookie?: unknown } | null)?.cookie;
      const now = Date.now();
      const expiresAt = this.#expiryOf(toJson({ cookie }).cookie, now);
      if (expiresAt <= now) {
        await this.store.destroy(id);
        return;
      }
      const touched = await this.store.touch(id, expiresAt);
      if (!touched && this.#strictLoss) throw new SessionDestroyedError();
    }

    async #all(): Promise<Record<string, ExpressSessionData>> {
      const sessions: Record<string, ExpressSessionData> = Object.create(null);
      const now = Date.now();
      for await (const [id, record] of this.store.all()) {
        if (!(record.expiresAt > now)) continue;
        const express = expressEntry(record);
        sessions[express?.id ?? id] = this.#toSession(record, express);
      }
      return sessions;
    }

    /** The expiry a cookie asks for: its `expires`, or now + `maxAge` for a browser-session cookie. */
    #expiryOf(cookie: unknown, now: number): number {
      const expires = (cookie as { expires?: unknown } | null | undefined)?.expires;
      const time = typeof expires === 'string' ? Date.parse(expires) : Number.NaN;
      return Number.isFinite(time) ? time : now + this.#maxAge;
    }
  };
}

/** The session as JSON, as every express-session store writes it; refuses what JSON can't hold. */
function toJson(session: object): Record<string, unknown> & { cookie?: unknown } {
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
function dataOf(entries: Map<string, unknown>): Record<string, JsonValue> {
  const data: Record<string, JsonValue> = Object.create(null);
  for (const [key, value] of entries) data[key] = value as JsonValue;
  return data;
}

/** The reserved entry of a record, when it has a usable one. */
function expressEntry(record: SessionRecord): ExpressEntry | undefined {
  const entry = record.data[EXPRESS_KEY];
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
  const cookie = (entry as { cookie?: unknown }).cookie;
  if (cookie === null || typeof cookie !== 'object' || Array.isArray(cookie)) return undefined;
  return entry as unknown as ExpressEntry;
}

/** A `Session` built by express-session (or the drop-in), as opposed to a caller's plain object. */
function isSessionObject(session: object): boolean {
  const s = session as Record<string, unknown>;
  return (
    typeof s.save === 'function' &&
    typeof s.reload === 'function' &&
    typeof s.regenerate === 'function'
  );
}

/**
 * Runs `work` and calls `callback` on a later tick, outside the promise chain: an exception from
 * the callback is the caller's, and can't be swallowed or turned into an unhandled rejection.
 * Failures that are not typed become `StoreUnavailableError`.
 */
function settle<T>(work: () => Promise<T>, callback: StoreCallback<T> | undefined): void {
  let pending: Promise<T>;
  try {
    pending = work();
  } catch (error) {
    pending = Promise.reject(error);
  }
  pending.then(
    (value) => {
      if (callback) process.nextTick(callback, null, value);
    },
    (error: unknown) => {
      const typed =
        error instanceof SessionError
          ? error
          : new StoreUnavailableError('the session store failed', { cause: error });
      if (callback) process.nextTick(callback, typed);
    },
  );
}
