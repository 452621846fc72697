/**
 * Per-user sessions: the policy the manager applies on top of a store's user-index tier.
 *
 * A session is bound to a user only when it is created (so only ever with a new id: a
 * fixation-safe login by construction). The binding lives in the session record, which is the
 * truth; a store's index is a candidate set verified against the records. Revoking a user's
 * sessions also raises the user's epoch, and every load of a bound session compares the epoch it
 * was bound under with the user's current one: a session the index missed (a login racing the
 * revocation, a lagging replica) is refused all the same, as Django and Devise do with a
 * per-user hash kept in the session.
 *
 * Devices are named by handles, never by ids: a handle is an HMAC of the id under a key derived
 * from the signing secret, so a "your devices" page shows nothing a browser could present as a
 * cookie, and a handle can't be turned back into an id.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertJsonValue } from './data.js';
import {
  InvalidSessionDataError,
  NotSupportedError,
  SessionDestroyedError,
  StoreFullError,
} from './errors.js';
import type { Secret } from './signer.js';
import {
  type JsonValue,
  type SessionRecord,
  type SessionStore,
  USER_BINDING_KEY,
  type UserBinding,
  type UserIndexStore,
  type UserSessionLimit,
} from './types.js';
import { oneOf, positiveInteger } from './validate.js';

/** One of a user's live sessions, as `listUserSessions` describes it. */
export interface UserSessionInfo {
  /** Opaque and stable name of the session (an HMAC of its id); give it to `destroyUserSession`. */
  handle: string;
  /** When the session was created (the login), ms since the epoch. */
  createdAt: number;
  /** When it expires unless renewed. */
  expiresAt: number;
  /**
   * When it was last renewed, derived from its expiry (`expiresAt - maxAge`), so it costs no write
   * of its own: its granularity is the renewal's (`touchAfter`; every `set` under
   * `renewOnWrite: 'always'`). Never before `createdAt`; near an absolute cap it may read earlier
   * than the truth.
   */
  lastSeenAt: number;
  /** This is the session of the request given as `current`. */
  current: boolean;
  /** The `meta` given at login (user agent, IP, a label); `{}` when none. */
  meta: Record<string, JsonValue>;
}

/** What a request carries when a user logs in: see `RegenerateOptions.user` and `meta`. */
export interface UserLogin {
  userId: string;
  meta: Record<string, JsonValue> | undefined;
}

/** Longest user id, in characters. */
export const MAX_USER_ID_LENGTH = 256;
/** Largest `meta`, in bytes of JSON: small app data for listings, not a second session. */
export const MAX_META_BYTES = 2048;

/** Event names (no ids) the per-user features emit through `onEvent`. */
export type UserSessionEventType = 'user-sessions-revoked' | 'user-session-evicted';

/** The settings of the per-user features, validated once at construction. */
export interface UserSessionSettings {
  maxSessionsPerUser: number | undefined;
  whenUserFull: 'evict-oldest' | 'reject';
}

/** The defaults of the per-user options of `SessionManagerOptions`. */
export const USER_DEFAULTS = { whenUserFull: 'evict-oldest' } as const;

/** Validates `maxSessionsPerUser` and `whenUserFull`. */
export function resolveUserSettings(options: {
  maxSessionsPerUser?: unknown;
  whenUserFull?: unknown;
}): UserSessionSettings {
  return {
    maxSessionsPerUser: positiveInteger(
      'maxSessionsPerUser',
      options.maxSessionsPerUser,
      undefined,
      Number.MAX_SAFE_INTEGER,
    ),
    whenUserFull: oneOf('whenUserFull', options.whenUserFull, USER_DEFAULTS.whenUserFull, [
      'evict-oldest',
      'reject',
    ] as const),
  };
}

/** Throws unless `userId` is a usable user id. */
export function assertUserId(userId: unknown): asserts userId is string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new InvalidSessionDataError(
      `user must be a string of 1 to ${MAX_USER_ID_LENGTH} characters (got ${describe(userId)}); convert numeric ids with String(id)`,
    );
  }
}

/** Checks a login's `meta`: a plain JSON object of at most {@link MAX_META_BYTES} bytes. */
export function checkMeta(meta: unknown): Record<string, JsonValue> | undefined {
  if (meta === undefined) return undefined;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new InvalidSessionDataError(`meta must be a plain object (got ${describe(meta)})`);
  }
  assertJsonValue(meta, MAX_META_BYTES);
  return copyMeta(meta as Record<string, JsonValue>);
}

/** A fresh copy of a `meta` object (JSON carries all it can hold). */
function copyMeta(meta: Record<string, JsonValue>): Record<string, JsonValue> {
  return JSON.parse(JSON.stringify(meta)) as Record<string, JsonValue>;
}

/**
 * Takes the binding out of loaded session data (so applications never see it) and returns it,
 * or `undefined` for an unbound session. A malformed binding is `null`: the caller refuses it.
 */
export function takeBinding(data: Record<string, JsonValue>): UserBinding | null | undefined {
  if (!Object.hasOwn(data, USER_BINDING_KEY)) return undefined;
  const raw = data[USER_BINDING_KEY] as Record<string, unknown> | null;
  delete data[USER_BINDING_KEY];
  if (raw === null || typeof raw !== 'object') return null;
  const { id, epoch, meta } = raw;
  if (typeof id !== 'string' || typeof epoch !== 'number' || !Number.isFinite(epoch)) return null;
  const hasMeta = meta !== null && typeof meta === 'object' && !Array.isArray(meta);
  return { id, epoch, meta: hasMeta ? (meta as Record<string, JsonValue>) : {} };
}

/**
 * True when `store` implements the user-index tier and its capabilities (when stated) include it.
 * Detected by the methods, never by class, so any store can offer it.
 */
export function hasUserIndex(store: SessionStore): store is SessionStore & UserIndexStore {
  const s = store as SessionStore & Partial<UserIndexStore>;
  return (
    (s.capabilities === undefined || s.capabilities.userIndex === true) &&
    typeof s.createForUser === 'function' &&
    typeof s.listUser === 'function' &&
    typeof s.destroyUser === 'function' &&
    typeof s.userEpoch === 'function' &&
    typeof s.raiseUserEpoch === 'function'
  );
}

/**
 * The per-user policy for one manager: handles, epochs, the cap, listings. The manager owns the
 * requests; this owns what is said about users.
 */
export class UserSessions {
  readonly #store: SessionStore;
  readonly #handleKey: Buffer;
  readonly #settings: UserSessionSettings;
  readonly #maxAge: number;
  readonly #emit: (type: UserSessionEventType, count: number) => void;

  constructor(
    store: SessionStore,
    secret: Secret,
    settings: UserSessionSettings,
    maxAge: number,
    emit: (type: UserSessionEventType, count: number) => void,
  ) {
    this.#store = store;
    // A key of its own, derived from the signing secret: the cookie's MAC is an HMAC of the id
    // under the secret itself, and a handle must never equal (or reveal) any part of a cookie.
    this.#handleKey = createHmac('sha256', secret).update('session-store-js user handle').digest();
    this.#settings = settings;
    this.#maxAge = maxAge;
    this.#emit = emit;
  }

  /** The store's user-index tier, or a `NotSupportedError` saying why the feature needs it. */
  tier(feature: string): UserIndexStore {
    const store = this.#store;
    if (hasUserIndex(store)) return store;
    throw new NotSupportedError(
      `${feature} needs a store with the user index (capabilities.userIndex), which binds sessions to users atomically; this store does not provide it. MemoryStore, FileStore, RedisStore and PostgresStore do; a wrapped express-session store can't (its set/destroy can't update an index atomically)`,
    );
  }

  /** The opaque handle of session `id`. */
  handle(id: string): string {
    return createHmac('sha256', this.#handleKey).update(id).digest('base64url');
  }

  /** The binding a new session of `login` gets: the user's current epoch, read now. */
  async bindingFor(login: UserLogin): Promise<UserBinding> {
    const epoch = await this.tier('regenerate({ user })').userEpoch(login.userId);
    return login.meta === undefined
      ? { id: login.userId, epoch }
      : { id: login.userId, epoch, meta: login.meta };
  }

  /**
   * Creates a session bound to `userId` within the cap; `false` on an id collision. Throws
   * `StoreFullError` when the user is at the cap under `'reject'`, `SessionDestroyedError` when
   * the store found the user's epoch past the binding (a revocation came first). `replacing`
   * names the session a regenerate ends right after, so a store bounded in size makes no room
   * for the new one.
   */
  async create(
    id: string,
    record: SessionRecord,
    userId: string,
    replacing?: string,
  ): Promise<boolean> {
    const { maxSessionsPerUser: max, whenUserFull } = this.#settings;
    const limit: UserSessionLimit | undefined =
      max === undefined ? undefined : { max, whenFull: whenUserFull };
    const result = await this.tier('regenerate({ user })').createForUser(
      id,
      record,
      userId,
      limit,
      replacing,
    );
    if (result.status === 'full') {
      throw new StoreFullError(
        `the user already has maxSessionsPerUser (${max}) live sessions and whenUserFull is 'reject'`,
      );
    }
    if (result.status === 'collision') return false;
    if (result.status === 'revoked') {
      // A revocation that came first wins, as a logout does: nothing was stored.
      throw new SessionDestroyedError(
        "the user's sessions were revoked while this login ran; the new session was not stored",
      );
    }
    if (result.evicted > 0) this.#emit('user-session-evicted', result.evicted);
    return true;
  }

  /** May a loaded session bound under `binding` be used? False once the user's epoch passed it. */
  async epochAllows(binding: UserBinding): Promise<boolean> {
    const store = this.#store;
    return hasUserIndex(store) && this.epochAllowsKnown(binding, await store.userEpoch(binding.id));
  }

  /** `epochAllows` with the epoch the store read with the record (`known`): answered at once. */
  epochAllowsKnown(binding: UserBinding, known: number): boolean {
    return hasUserIndex(this.#store) && binding.epoch >= known;
  }

  /**
   * The user's live sessions; `currentId` marks one. Sessions bound under an older epoch are left
   * out (they are refused on their next load anyway).
   */
  async list(userId: string, currentId: string | undefined): Promise<UserSessionInfo[]> {
    const entries = await this.#live(userId, 'listUserSessions');
    return entries
      .map(([id, record, binding]) => ({
        handle: this.handle(id),
        createdAt: record.createdAt,
        expiresAt: record.expiresAt,
        lastSeenAt: Math.max(
          record.createdAt,
          Math.min(Date.now(), record.expiresAt - this.#maxAge),
        ),
        current: id === currentId,
        // A copy: stores may share one frozen binding among the records they return.
        meta: binding.meta === undefined ? {} : copyMeta(binding.meta),
      }))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** The id of the user's live session named by `handle`, or `undefined`. */
  async find(userId: string, handle: unknown): Promise<string | undefined> {
    if (typeof handle !== 'string' || handle.length !== 43) return undefined;
    const wanted = Buffer.from(handle);
    for (const [id] of await this.#live(userId, 'destroyUserSession')) {
      if (timingSafeEqual(Buffer.from(this.handle(id)), wanted)) return id;
    }
    return undefined;
  }

  /**
   * Revokes the user's sessions but `except` (a session of this user, already re-stamped by the
   * caller with the epoch `raiseTo`): raises the epoch, then destroys what the index lists.
   */
  async revoke(userId: string, raiseTo: number, exceptId: string | undefined): Promise<number> {
    const tier = this.tier('destroyUserSessions');
    await tier.raiseUserEpoch(userId, raiseTo);
    const count = await tier.destroyUser(userId, exceptId);
    this.#emit('user-sessions-revoked', count);
    return count;
  }

  /** The epoch a revocation of `userId` raises to: past the current one, and at least now. */
  async nextEpoch(userId: string): Promise<number> {
    const current = await this.tier('destroyUserSessions').userEpoch(userId);
    return Math.max(current + 1, Date.now());
  }

  async #live(userId: string, feature: string): Promise<[string, SessionRecord, UserBinding][]> {
    const tier = this.tier(feature);
    const [entries, epoch] = await Promise.all([tier.listUser(userId), tier.userEpoch(userId)]);
    const now = Date.now();
    const live: [string, SessionRecord, UserBinding][] = [];
    for (const [id, record] of entries) {
      const binding = takeBinding(record.data);
      if (!binding || binding.id !== userId || binding.epoch < epoch) continue;
      if (record.expiresAt <= now) continue;
      live.push([id, record, binding]);
    }
    return live;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
