/**
 * `SessionManager`: the public methods and what happens to a session on a request (load,
 * renewal, write, create, move, loss, cookie). One file over ~300 lines because these steps share
 * the request's state and each other's invariants (a write renews like a read, a create and a
 * move both adopt and send the cookie); the parts that stand alone live beside it: store-call.ts
 * (error mapping), move-in-steps.ts (regenerate without `move`), renewal.ts and
 * renewal-failure.ts, user-requests.ts (per-user sessions), expiry.ts, set-cookie.ts.
 */
import { SessionCookie } from './cookie.js';
import { assertJsonValue, assertValidKey, EXPRESS_KEY } from './data.js';
import { HeadersSentError, SessionCollisionError, SessionDestroyedError } from './errors.js';
import { expiryFor, isLive, renewalDue } from './expiry.js';
import { generateSessionId } from './id.js';
import { LegacyImporter } from './legacy-import.js';
import { createMiddleware, type SessionMiddleware } from './middleware.js';
import { moveInSteps } from './move-in-steps.js';
import { type ResolvedOptions, resolveOptions, type SessionManagerOptions } from './options.js';
import { type RenewalOutcome, Renewals } from './renewal.js';
import { renewalFailureReporter } from './renewal-failure.js';
import { type RequestState, type SessionRequest, StateSlot } from './request-state.js';
import { setSessionCookie } from './set-cookie.js';
import { Signer } from './signer.js';
import { callStore } from './store-call.js';
import { createStore, isSessionStore } from './stores/create-store.js';
import {
  type JsonValue,
  type SessionData,
  type SessionMove,
  type SessionRecord,
  type SessionStore,
  USER_BINDING_KEY,
} from './types.js';
import { UserRequests } from './user-requests.js';
import { resolveUserSettings, takeBinding, type UserSessionInfo, UserSessions } from './users.js';
import { refuse } from './validate.js';

/** Options of {@link SessionManager.regenerate}. */
export interface RegenerateOptions<T> {
  /** Carry data to the new session: `true` for every key, or a list of keys. Default: `false`. */
  keep?: boolean | readonly (keyof T & string)[];
  /**
   * Binds the new session to this user (the login): it is listed by `listUserSessions` and
   * revoked by `destroyUserSessions`. `null` makes the new session unbound. Default: the new
   * session keeps the user of the old one, if any.
   */
  user?: string | null;
  /**
   * Small JSON data shown in the user's listing (user agent, IP, a label); at most 2048 bytes
   * of JSON. Only with `user`. Default: the old session's `meta` when the user is kept, else none.
   */
  meta?: Record<string, JsonValue>;
}

/** Options of {@link SessionManager.listUserSessions}. */
export interface ListUserSessionsOptions {
  /** The request whose session is marked `current: true`. Default: none is marked. */
  current?: SessionRequest;
}

/** Options of {@link SessionManager.destroyUserSessions}. */
export interface DestroyUserSessionsOptions {
  /** Keep this request's session ("log out everywhere else"). Default: every session goes. */
  except?: SessionRequest;
}

/** How many fresh ids are tried when the store reports a collision (practically never). */
const CREATE_ATTEMPTS = 3;
/**
 * How long after a regenerate a logout of the old session still ends the new one: covers the
 * requests that loaded the old session before the move and are still running.
 */
const FORWARD_MS = 600_000;

/**
 * Server-side sessions for Express. Policy lives here — signing, strict ids, lazy creation,
 * expiry and key-level writes — and persistence in the store, which only sees absolute times.
 *
 * `T` types the session data (`get`/`set` keys and values); `S` types `.store`.
 */
export class SessionManager<T extends object = SessionData, S extends SessionStore = SessionStore> {
  /** The store sessions live in. */
  readonly store: S;
  /** Name of the session cookie. */
  readonly cookieName: string;
  /** Idle lifetime in ms. */
  readonly maxAge: number;
  /** Absolute lifetime cap in ms, when set. */
  readonly absoluteTimeout: number | undefined;
  readonly #options: ResolvedOptions;
  readonly #signer: Signer;
  readonly #cookie: SessionCookie;
  readonly #slot = new StateSlot();
  readonly #production = process.env.NODE_ENV === 'production';
  readonly #users: UserRequests;
  #middleware: SessionMiddleware | undefined;
  readonly #renewals = new Renewals();
  readonly #legacy: LegacyImporter | undefined;
  readonly #reportRenewalFailure: (error: unknown) => void;

  constructor(options: SessionManagerOptions<S>) {
    this.#options = resolveOptions(options as SessionManagerOptions<SessionStore>);
    this.maxAge = this.#options.maxAge;
    this.absoluteTimeout = this.#options.absoluteTimeout;
    this.#signer = new Signer(this.#options.secrets);
    this.#cookie = new SessionCookie(this.#options.cookieName, options.cookie);
    this.cookieName = this.#cookie.name;
    if (options.store !== undefined) {
      if (!isSessionStore(options.store)) {
        refuse(
          'store',
          'an object implementing the SessionStore contract (get, create, update, touch, destroy, all, length, clear, close)',
          options.store,
        );
      }
      this.store = options.store;
    } else {
      this.store = createStore(options.storeType, options.storeOptions, this.maxAge) as S;
    }
    this.#legacy =
      options.migrateFrom === undefined ? undefined : new LegacyImporter(options.migrateFrom);
    const onEvent = this.#options.onEvent;
    const users = new UserSessions(
      this.store,
      this.#options.secrets[0]!,
      resolveUserSettings(options),
      this.maxAge,
      (type, count) => {
        try {
          onEvent?.({ type, count });
        } catch {
          // An observer must never break a request.
        }
      },
    );
    this.#users = new UserRequests(this.store, users, this.#slot);
    this.#reportRenewalFailure = renewalFailureReporter(onEvent);
  }

  /**
   * The Express middleware: reads and verifies the cookie, loads the session, sets
   * `req.sessionID`. Mount it before the routes that use sessions and after static files.
   */
  middleware(): SessionMiddleware {
    this.#middleware ??= createMiddleware({
      slot: this.#slot,
      signer: this.#signer,
      cookieName: this.cookieName,
      load: (state, id, renew) => this.#load(state, id, renew),
      reject: (state) => this.#drop(state),
      onEvent: this.#options.onEvent,
    });
    return this.#middleware;
  }

  /** The id of the request's live session, or `undefined` (same as `req.sessionID`). */
  sessionId(req: SessionRequest): string | undefined {
    return this.#slot.of(req).id;
  }

  /** The value of `key` in the request's session, or `undefined` (no session, or no such key). */
  get<K extends keyof T & string>(req: SessionRequest, key: K): Promise<T[K] | undefined> {
    let state: RequestState;
    try {
      state = this.#slot.of(req);
    } catch (error) {
      return Promise.reject(error);
    }
    const pending = state.idle();
    if (!pending) return Promise.resolve(readKey<T, K>(state, key));
    const read = () => readKey<T, K>(state, key);
    return pending.then(read, read);
  }

  /**
   * Sets `key` (only that key) and renews the idle lifetime. `undefined` removes the key. The
   * first `set` of a visitor creates the session and the cookie. Resolves once the store holds
   * the write. Rejects with `InvalidSessionDataError`/`SessionTooLargeError` for values JSON
   * can't hold (the stored session is untouched), `SessionDestroyedError` when the session was
   * destroyed or expired meanwhile (it is never brought back), `HeadersSentError` when a new
   * session can no longer send its cookie.
   */
  set<K extends keyof T & string>(
    req: SessionRequest,
    key: K,
    value: T[K] | undefined,
  ): Promise<void> {
    // Not `async`, and the write below is a plain promise chain: on the path of every request
    // that writes, each async layer would cost a suspended frame and a promise.
    try {
      assertValidKey(key);
      if (value !== undefined) assertJsonValue(value, this.#options.maxValueBytes);
      const state = this.#slot.of(req);
      return state.enqueue(() => this.#write(state, key, value as JsonValue | undefined));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Removes the session from the store and clears the cookie. Resolves even when there is none. */
  async destroy(req: SessionRequest): Promise<void> {
    const state = this.#slot.of(req);
    await state.enqueue(async () => {
      const id = state.id;
      if (id !== undefined) {
        this.#renewals.forget(id);
        await callStore(() => this.store.destroy(id));
      }
      this.#drop(state);
    });
  }

  /**
   * Renews the idle lifetime and re-sends the cookie. Resolves `false` when the request has no
   * session; rejects with `SessionDestroyedError` when it was destroyed or expired meanwhile.
   */
  async touch(req: SessionRequest): Promise<boolean> {
    const state = this.#slot.of(req);
    return state.enqueue(async () => {
      const id = state.id;
      if (id === undefined) return false;
      const expiresAt = this.#renewedExpiry(state);
      const touched = await callStore(() => this.store.touch(id, expiresAt));
      if (!touched) this.#lost(state);
      state.expiresAt = expiresAt;
      this.#sendCookie(state);
      return true;
    });
  }

  /**
   * Moves the request to a new session id (call it after login or any privilege change) and
   * ends the old session. With `keep`, data is carried over — what the store holds at that
   * moment, other requests' writes included. The new session gets a new absolute lifetime.
   * With `user`, the new session is bound to that user (the login: listed and revoked per
   * user); without it, the old session's user is kept. Resolves the new id. Rejects with
   * `SessionDestroyedError` (and creates nothing) when the session was destroyed or expired
   * meanwhile: a logout that came first wins; a logout that comes after, from a request that
   * loaded the old session, ends the new session too; with `user`, also when a revocation of
   * that user (`destroyUserSessions`) came first on a store that checks it as the session is
   * created (RedisStore on one Redis). Rejects with `StoreFullError` for a user
   * at `maxSessionsPerUser` under `'reject'`, `NotSupportedError` for `user` on a store without
   * the user index.
   */
  async regenerate(req: SessionRequest, options: RegenerateOptions<T> = {}): Promise<string> {
    const keep = options.keep ?? false;
    if (typeof keep !== 'boolean' && !Array.isArray(keep)) {
      refuse('keep', 'true, false or an array of keys', keep);
    }
    const login = this.#users.loginOf(options);
    const state = this.#slot.of(req);
    return state.enqueue(async () => {
      if (state.res.headersSent) throw new HeadersSentError();
      const oldId = state.id;
      const user = login === undefined ? state.user : login;
      const keys = keep === true ? true : keep === false ? [] : keep;
      if (oldId !== undefined) this.#renewals.forget(oldId);
      if (!user) {
        if (oldId === undefined) return this.#create(state, Object.create(null));
        return this.#move(state, oldId, keys, CREATE_ATTEMPTS);
      }
      // A session bound to a user is created through the user index, then the old one is
      // moved into it.
      const forwardUntil = this.#forwardUntil(state);
      const id = await this.#users.create(
        state,
        this.#newRecord(Object.create(null)),
        user,
        oldId,
        (record, create) =>
          this.#insert(state, record, CREATE_ATTEMPTS, true, create) as Promise<string>,
      );
      if (oldId !== undefined) await this.#moveInto(state, oldId, id, keys, forwardUntil);
      return id;
    });
  }

  /** The user the request's session is bound to (see `regenerate({ user })`), or `undefined`. */
  userId(req: SessionRequest): string | undefined {
    return this.#slot.of(req).user?.id;
  }

  /**
   * The user's live sessions, oldest login first, each named by an opaque `handle` (never the
   * id). Costs what the user has, not what the store holds. `current` marks one request's
   * session. Needs a store with the user index (else `NotSupportedError`).
   */
  async listUserSessions(
    userId: string,
    options: ListUserSessionsOptions = {},
  ): Promise<UserSessionInfo[]> {
    return this.#users.list(userId, options.current);
  }

  /**
   * Destroys the session of `userId` that `handle` names; resolves whether one was destroyed.
   * A handle of another user's session, or a made-up one, does nothing.
   */
  async destroyUserSession(userId: string, handle: string): Promise<boolean> {
    return this.#users.destroyOne(userId, handle);
  }

  /**
   * "Log out everywhere" (or, with `except`, everywhere else): destroys the user's sessions and
   * raises the user's epoch, so a session the index missed — a login racing this call — is
   * refused on its next load too. Resolves how many sessions the index listed and destroyed.
   */
  async destroyUserSessions(
    userId: string,
    options: DestroyUserSessionsOptions = {},
  ): Promise<number> {
    return this.#users.destroyAll(userId, options.except);
  }

  /** Every live session's data, keyed by id. Loads them all: prefer `sessions()` for many. */
  async getAllSessions(): Promise<Record<string, T>> {
    const all: Record<string, T> = Object.create(null);
    for await (const [id, data] of this.sessions()) all[id] = data;
    return all;
  }

  /** Streams `[id, data]` for every live session, without holding them all in memory. */
  async *sessions(): AsyncGenerator<[string, T]> {
    const iterator = this.store.all()[Symbol.asyncIterator]();
    for (;;) {
      const next = await callStore(() => iterator.next());
      if (next.done) return;
      const [id, record] = next.value;
      if (!this.#isLive(record, Date.now())) continue;
      takeBinding(record.data);
      if (Object.hasOwn(record.data, EXPRESS_KEY)) delete record.data[EXPRESS_KEY];
      yield [id, record.data as T];
    }
  }

  /** Removes every session of the store. */
  async clearAllSessions(): Promise<void> {
    await callStore(() => this.store.clear());
  }

  /** Stops the store's timers and releases what it owns. The manager is unusable afterwards. */
  async close(): Promise<void> {
    await this.store.close();
  }

  /**
   * Loads the session `id` into `state`; resolves whether it is live. Written as callbacks on the
   * store's promise rather than `async`: the common load (no user binding, no renewal due) then
   * settles in one hop after the store answers, on the path of nearly every request.
   */
  #load(state: RequestState, id: string, renewCookie: boolean): Promise<boolean> {
    return callStore(
      () => this.store.get(id),
      (record) =>
        !record && this.#legacy
          ? this.#import(state, id, renewCookie)
          : this.#loaded(state, id, record, renewCookie),
    );
  }

  /**
   * migrateFrom: a session still in the legacy store moves over now; the cookie is re-sent with
   * this manager's attributes.
   */
  async #import(state: RequestState, id: string, renewCookie: boolean): Promise<boolean> {
    const legacy = this.#legacy!;
    const cap = (createdAt: number, now: number) => this.#expiryFor(createdAt, now);
    const record = await callStore(() => legacy.import(id, this.store, cap));
    return this.#loaded(state, id, record, renewCookie || record !== undefined);
  }

  /** What a load makes of the stored record; a promise only when a check or renewal must wait. */
  #loaded(
    state: RequestState,
    id: string,
    record: SessionRecord | undefined,
    renewCookie: boolean,
  ): boolean | Promise<boolean> {
    const now = Date.now();
    if (!record || !this.#isLive(record, now)) {
      // Strict mode: an id without a live session is never adopted; the next write makes a new one.
      if (record) this.store.destroy(id).catch(() => {});
      return false;
    }
    // express-session's cookie, kept by the express-session adapter, is not application data.
    if (Object.hasOwn(record.data, EXPRESS_KEY)) delete record.data[EXPRESS_KEY];
    state.adopt(id, record.data, record.createdAt, record.expiresAt);
    if (Object.hasOwn(record.data, USER_BINDING_KEY)) {
      const admitted = this.#users.admit(state, record);
      if (admitted === true) return this.#admitted(state, id, record, now, renewCookie);
      if (admitted === false) return false;
      return admitted.then(
        (allowed) => allowed && this.#admitted(state, id, record, now, renewCookie),
      );
    }
    return this.#admitted(state, id, record, now, renewCookie);
  }

  /** The rest of a load once the session is adopted: the rolling renewal and the cookie. */
  #admitted(
    state: RequestState,
    id: string,
    record: SessionRecord,
    now: number,
    renewCookie: boolean,
  ): boolean | Promise<boolean> {
    if (this.#options.rolling) {
      const renewal = this.#renew(state, id, record.createdAt, now);
      if (renewal !== undefined) {
        return renewal.then((live) => {
          if (!live) {
            state.forget();
            return false;
          }
          return this.#loadDone(state, record, renewCookie);
        });
      }
    }
    return this.#loadDone(state, record, renewCookie);
  }

  #loadDone(state: RequestState, record: SessionRecord, renewCookie: boolean): true {
    if (renewCookie || state.expiresAt !== record.expiresAt) this.#sendCookie(state);
    return true;
  }

  /**
   * Rolling renewal of a session just loaded; resolves `false` when the store says it is gone,
   * and is `undefined` when no renewal is due or in flight (most loads: nothing to wait for).
   * Concurrent readers share one renewal (see `Renewals`), and the store's touch is conditional
   * on extending by `touchAfter`, so other processes' renewals are not repeated either. A renewal
   * the store fails to write is reported and the request goes on with the session as loaded:
   * only an explicit write rejects.
   */
  #renew(
    state: RequestState,
    id: string,
    createdAt: number,
    now: number,
  ): Promise<boolean> | undefined {
    const touchAfter = this.#options.touchAfter;
    const known = this.#renewals.latest(id);
    const expiresAt = this.#expiryFor(createdAt, now);
    let renewal: Promise<RenewalOutcome>;
    let renewedTo: number;
    if (renewalDue(expiresAt, Math.max(state.expiresAt, known?.expiresAt ?? 0), touchAfter)) {
      renewedTo = expiresAt;
      renewal = this.#renewals.start(
        id,
        expiresAt,
        callStore(() => this.store.touch(id, expiresAt, touchAfter)),
        (error) => this.#reportRenewalFailure(error),
      );
    } else if (known !== undefined && known.expiresAt > state.expiresAt) {
      renewedTo = known.expiresAt;
      renewal = known.done;
    } else {
      return undefined;
    }
    return renewal.then((outcome) => {
      if (outcome === 'gone') return false;
      if (outcome === 'renewed') state.expiresAt = renewedTo;
      return true;
    });
  }

  #write(state: RequestState, key: string, value: JsonValue | undefined): Promise<void> {
    try {
      const id = state.id;
      if (id === undefined) {
        if (value === undefined) return Promise.resolve();
        if (state.res.headersSent) throw new HeadersSentError();
        const data: Record<string, JsonValue> = Object.create(null);
        data[key] = value;
        return this.#insert(state, this.#newRecord(data), CREATE_ATTEMPTS, false) as Promise<void>;
      }
      // With `renewOnWrite: 'touchAfter'` a write renews like a rolling read: the expiry (and
      // with it the cookie, whose Expires must match it) moves only when that gains at least
      // `touchAfter`, so most writes send no Set-Cookie.
      const renewed = this.#renewedExpiry(state);
      const options = this.#options;
      const renew =
        !options.throttleWrites || renewalDue(renewed, state.expiresAt, options.touchAfter);
      const expiresAt = renew ? renewed : state.expiresAt;
      const changes = value === undefined ? { unset: [key] } : { set: { [key]: value } };
      return callStore(
        () => this.store.update(id, changes, expiresAt),
        (updated) => {
          if (!updated) this.#lost(state);
          const data = state.data!;
          if (value === undefined) delete data[key];
          else data[key] = value;
          if (renew) {
            state.expiresAt = expiresAt;
            this.#sendCookie(state);
          }
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Creates a session holding `data` for the request; resolves its id. */
  #create(state: RequestState, data: Record<string, JsonValue>): Promise<string> {
    return this.#insert(state, this.#newRecord(data), CREATE_ATTEMPTS, true) as Promise<string>;
  }

  /** Moves the request's session `oldId` to a fresh id (a new one on a collision). */
  async #move(
    state: RequestState,
    oldId: string,
    keep: true | readonly string[],
    attempts: number,
  ): Promise<string> {
    const id = generateSessionId();
    const now = Date.now();
    const move: SessionMove = {
      keep,
      createdAt: now,
      expiresAt: this.#expiryFor(now, now),
      forwardUntil: this.#forwardUntil(state),
    };
    const store = this.store;
    const result = await (store.move
      ? callStore(() => store.move!(oldId, id, move))
      : moveInSteps(store, oldId, id, move, (record, now) => this.#isLive(record, now)));
    if (result.status === 'collision') {
      if (attempts <= 1) throw new SessionCollisionError();
      return this.#move(state, oldId, keep, attempts - 1);
    }
    if (result.status === 'missing') this.#lost(state);
    state.adopt(id, result.data, move.createdAt, move.expiresAt);
    this.#sendCookie(state);
    return id;
  }

  /**
   * Until when a logout of the request's session, once moved, still ends the new one: long
   * enough for any request that loaded it to log out, never longer than it could have lived.
   */
  #forwardUntil(state: RequestState): number {
    const now = Date.now();
    return Math.min(Math.max(state.expiresAt, now), now + FORWARD_MS);
  }

  /** Moves the kept keys of `oldId` into the request's new session `id`, just created. */
  async #moveInto(
    state: RequestState,
    oldId: string,
    id: string,
    keep: true | readonly string[],
    forwardUntil: number,
  ): Promise<void> {
    const move: SessionMove = {
      keep,
      createdAt: state.createdAt,
      expiresAt: state.expiresAt,
      forwardUntil,
      into: 'existing',
    };
    const store = this.store;
    const result = await (store.move
      ? callStore(() => store.move!(oldId, id, move))
      : moveInSteps(store, oldId, id, move, (record, now) => this.#isLive(record, now)));
    if (result.status !== 'moved') {
      await callStore(() => store.destroy(id));
      this.#lost(state);
    }
    state.data = result.data;
  }

  #newRecord(data: Record<string, JsonValue>): SessionRecord {
    const now = Date.now();
    return { data, createdAt: now, expiresAt: this.#expiryFor(now, now) };
  }

  /**
   * Stores `record` under a fresh id (a new id on a collision, `attempts` in all) and makes it
   * the request's session; resolves the id when `resolveId`, else `undefined`.
   */
  #insert(
    state: RequestState,
    record: SessionRecord,
    attempts: number,
    resolveId: boolean,
    create?: (id: string, record: SessionRecord) => Promise<boolean>,
  ): Promise<string | undefined> {
    const id = generateSessionId();
    return callStore(
      () => (create ? create(id, record) : this.store.create(id, record)),
      (created) => {
        if (!created) {
          if (attempts <= 1) throw new SessionCollisionError();
          return this.#insert(state, record, attempts - 1, resolveId, create);
        }
        state.adopt(id, record.data, record.createdAt, record.expiresAt);
        this.#sendCookie(state);
        return resolveId ? id : undefined;
      },
    );
  }

  /** New expiry for a renewal of the live session; a session past its absolute cap is lost. */
  #renewedExpiry(state: RequestState): number {
    const now = Date.now();
    const expiresAt = this.#expiryFor(state.createdAt, now);
    if (expiresAt <= now) {
      const id = state.id!;
      this.store.destroy(id).catch(() => {});
      this.#lost(state);
    }
    return expiresAt;
  }

  #expiryFor(createdAt: number, now: number): number {
    return expiryFor(this, createdAt, now);
  }

  /** The manager's own expiry check, applied to whatever the store returns. */
  #isLive(record: SessionRecord, now: number): boolean {
    return isLive(this, record, now);
  }

  /** The session went away under this request: forget it, clear the cookie, refuse the write. */
  #lost(state: RequestState): never {
    this.#drop(state);
    throw new SessionDestroyedError();
  }

  /** Forgets the request's session and tells the browser to drop a cookie it sent. */
  #drop(state: RequestState): void {
    const hadSession = state.id !== undefined;
    state.forget();
    if ((hadSession || state.hadCookie) && !state.res.headersSent) {
      setSessionCookie(
        state.res,
        this.cookieName,
        this.#cookie.serializeCleared(this.#isSecure(state)),
      );
    }
    state.hadCookie = false;
  }

  #sendCookie(state: RequestState): void {
    const id = state.id;
    if (state.res.headersSent || id === undefined) return;
    // The cookie the request came with, when the first secret signed it, is exactly what `sign`
    // would compute: re-sending it spares an HMAC on every renewal.
    const signed = state.signedId === id ? state.signedValue! : this.#signer.sign(id);
    const value = this.#cookie.serialize(signed, state.expiresAt, this.#isSecure(state));
    setSessionCookie(state.res, this.cookieName, value);
    state.hadCookie = true;
  }

  #isSecure(state: RequestState): boolean {
    const secure = this.#cookie.secure;
    if (secure !== 'auto') return secure;
    if (this.#production) return true;
    const req = state.req as SessionRequest & { secure?: boolean; socket: { encrypted?: boolean } };
    return req.secure ?? req.socket?.encrypted === true;
  }
}

/** The value of `key` in the request's session (own keys only, whatever a store hands back). */
function readKey<T, K extends keyof T & string>(state: RequestState, key: K): T[K] | undefined {
  const data = state.data;
  return data && Object.hasOwn(data, key) ? (data[key] as T[K]) : undefined;
}
