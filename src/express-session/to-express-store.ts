import { IncomingMessage, ServerResponse } from 'node:http';
import { EXPRESS_KEY } from '../data.js';
import { InvalidOptionError, SessionCollisionError, SessionDestroyedError } from '../errors.js';
import { prepareForProperties } from '../own-properties.js';
import { isSessionStore } from '../stores/create-store.js';
import { type SessionRecord, type SessionStore, USER_BINDING_KEY } from '../types.js';
import { settle } from './callback-bridge.js';
import { isoString } from './date-text.js';
import { storeIdOf } from './id-map.js';
import { requireFromHere } from './optional-require.js';
import { dataOf, type ExpressEntry, entriesOf, expressEntry, toJson } from './record-mapping.js';
import {
  attachSnapshot,
  commitSnapshot,
  readChanges,
  snapshotFrom,
  snapshotOfStored,
} from './snapshot.js';
import { Store } from './store-base.js';
import type {
  ExpressCookieJson,
  ExpressSessionData,
  ExpressSessionStore,
  StoreCallback,
  ToExpressStoreOptions,
} from './to-express-store-options.js';
import { resolveToExpressStoreOptions } from './to-express-store-options.js';

/**
 * `toExpressStore(store)`: a session-store-js store as express-session's `store`. A subclass of
 * express-session's `Store` (the installed one, or a faithful stand-in when express-session is
 * not installed), with express-session's callback methods. Sessions loaded through it are
 * snapshotted, so express-session's whole-object `set` becomes a key-level `update` of the keys
 * that changed, and a `set` for a session destroyed meanwhile never brings it back.
 */

/** A constructor of express-session's `Store` (the real one or the stand-in). */
type StoreBase = new () => Store;
type AdapterClass = new <S extends SessionStore>(
  store: S,
  options?: ToExpressStoreOptions,
) => ExpressSessionStore<S>;

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

    constructor(store: S, options?: ToExpressStoreOptions) {
      super();
      if (!isSessionStore(store)) {
        throw new InvalidOptionError(
          'store must implement the SessionStore contract (get, create, update, touch, destroy, all, length, clear, close)',
        );
      }
      const { maxAge, strictLoss } = resolveToExpressStoreOptions(options);
      this.store = store;
      this.#maxAge = maxAge;
      this.#strictLoss = strictLoss;
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
      prepareRequest(req);
      const sid = (req as { sessionID?: unknown }).sessionID;
      const original = typeof sid === 'string' && storeIdOf(sid).mapped ? sid : undefined;
      const snapshot = snapshotOfStored(stored as Record<string, unknown>, original);
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
        ? (Object.assign({}, express.cookie) as ExpressCookieJson)
        : { originalMaxAge: this.#maxAge, path: '/', httpOnly: true };
      // The record's expiry is the truth: a touch or a store-side bound moves it.
      cookie.expires = cookie.expires === null ? null : isoString(record.expiresAt);
      const session: ExpressSessionData = { cookie };
      for (const key of Object.keys(record.data)) {
        if (key !== EXPRESS_KEY && key !== USER_BINDING_KEY) session[key] = record.data[key];
      }
      return session;
    }

    async #set(sid: string, session: object): Promise<void> {
      const { id, mapped } = storeIdOf(sid);
      const before = isObject(session) ? snapshotFrom(session) : undefined;
      if (before === undefined && !isSessionObject(session)) {
        await this.#replace(id, mapped ? sid : undefined, session);
        return;
      }
      const changes = readChanges(session, before, mapped ? sid : undefined);
      const { set, unset, changed, expires } = changes;
      const now = Date.now();
      const expiresAt = Number.isFinite(expires) ? expires : now + this.#maxAge;
      if (expiresAt <= now) {
        // An already expired cookie: the session ends (as connect-redis does).
        await this.store.destroy(id);
        return;
      }
      if (before !== undefined) {
        // A loaded session: the keys that changed, or only the expiry when none did.
        const written = changed
          ? await this.store.update(id, { set, unset }, expiresAt)
          : await this.store.touch(id, expiresAt);
        if (!written && this.#strictLoss) throw new SessionDestroyedError();
      } else if (!(await this.store.create(id, { data: set, createdAt: now, expiresAt }))) {
        throw new SessionCollisionError(
          'a live session already has this id; a new session never takes over another one (check genid)',
        );
      }
      commitSnapshot(session, before, changes);
    }

    /**
     * A plain object from a direct caller (not a session express-session built): express-session's
     * upsert, as a whole-session replace. Not atomic against concurrent writers.
     */
    async #replace(id: string, originalId: string | undefined, session: object): Promise<void> {
      const json = toJson(session);
      const now = Date.now();
      const expiresAt = this.#expiryOf(json.cookie, now);
      if (expiresAt <= now) {
        await this.store.destroy(id);
        return;
      }
      const entries = entriesOf(json, originalId);
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

/**
 * The request (and Express's `req.res`) in V8's dictionary mode before express-session adds
 * `req.session` and Express's router and the application add theirs (see own-properties.ts).
 */
function prepareRequest(req: object): void {
  prepareForProperties(req, IncomingMessage.prototype);
  const res = (req as { res?: unknown }).res;
  if (res !== null && typeof res === 'object') prepareForProperties(res, ServerResponse.prototype);
}

/** A `Session` built by express-session (or the drop-in), as opposed to a caller's plain object. */
function isSessionObject(session: unknown): boolean {
  if (!isObject(session)) return false;
  const s = session as Record<string, unknown>;
  return (
    typeof s.save === 'function' &&
    typeof s.reload === 'function' &&
    typeof s.regenerate === 'function'
  );
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object';
}
