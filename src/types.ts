/**
 * The store contract and the public data types. Stores know this file, `errors.ts` and `id.ts`
 * only; the manager knows this contract and never a concrete store.
 */

/** A value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type JsonPrimitive = string | number | boolean | null;
/** A JSON value: what a session can hold. */
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/** The default shape of a session's data: any JSON object. Pass your own interface to `SessionManager<T>`. */
export type SessionData = Record<string, JsonValue>;

/**
 * A stored session. `data` is a null-prototype object of key → JSON value.
 * Times are absolute, in milliseconds since the epoch; the manager computes them.
 */
export interface SessionRecord {
  data: Record<string, JsonValue>;
  /** When the session was created (used for the absolute lifetime cap). */
  createdAt: number;
  /** When the session expires unless renewed. A record with `expiresAt <= Date.now()` does not exist. */
  expiresAt: number;
  /**
   * Only from `get` of a store with the user index, and only when it read it with the record,
   * atomically (one statement or script), just before it in the same round trip, or from its own
   * memory in the same call (a store whose epochs live in this process): the current epoch of
   * the user the record is bound to. The manager then checks the binding against it there and
   * then instead of calling `userEpoch`, which saves a round trip (and, in process, the promise
   * hops of a second call) on every request of a signed-in user. Leave it out otherwise.
   */
  userEpoch?: number;
  /**
   * Only from `get` of a store with the user index, for a bound record that the store itself
   * guarantees is not behind its user's epoch: every session bound to that user is in the
   * user's index (the same atomic steps change both, and nothing can drop the index alone), and
   * every `createForUser` checks the epoch as it stores the session (answering `'revoked'`), so
   * a revocation, which raises the epoch and then destroys what the index lists, leaves no such
   * session once it returns. The manager then uses the binding without an epoch check.
   */
  userCurrent?: boolean;
}

/** A key-level change: keys in `set` are written, keys in `unset` removed, all others kept. */
export interface SessionChanges {
  set?: Record<string, JsonValue>;
  unset?: readonly string[];
}

/**
 * The store contract. Every method validates `id` first and rejects with
 * `InvalidSessionIdError` before any I/O. A record whose `expiresAt` has passed is treated as
 * absent by every method, whether or not cleanup has removed it yet. "Not found" is a value
 * (`undefined`, `false`); failures reject with the typed errors of `errors.ts`.
 *
 * Every method is required, for these reasons:
 * - `get`, `create`, `update`, `touch`, `destroy` are what the manager calls on requests: loading,
 *   the first write, key-level writes, rolling renewal, logout. `create` and `update`/`touch`
 *   carry the two guarantees sessions rest on — an id collision never merges two sessions, and a
 *   destroyed session never comes back — so none of them can be emulated by the others.
 * - `all`, `length`, `clear` back `getAllSessions`, `clearAllSessions` and counting; they may be
 *   slow (they walk the store), but an administrator can't log everybody out without them.
 * - `close` ends what the store owns (see there), so a process can shut down cleanly.
 *
 * The optional tiers are separate: `capabilities` (what the store guarantees) and the user index
 * ({@link UserIndexStore}); the manager detects them, never the class.
 */
export interface SessionStore {
  /**
   * The session, or `undefined` when it is missing, expired or unreadable (corrupt data is
   * "not found", never an exception). The returned record is a copy the caller may mutate.
   * Called by the middleware once per request that carries a correctly signed cookie.
   */
  get(id: string): Promise<SessionRecord | undefined>;

  /**
   * Inserts a new session only if no live session has this id. Resolves `true` when created,
   * `false` on a collision (the existing session is left untouched). The store copies `record`.
   * Called by the manager on the first `set` of a visitor and by `regenerate`.
   */
  create(id: string, record: SessionRecord): Promise<boolean>;

  /**
   * Applies a key-level change to an existing, live session and sets its expiry. Resolves
   * `false` — and writes nothing — when the session is missing or expired: a write never brings
   * a destroyed session back. Two concurrent updates of different keys both land.
   */
  update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean>;

  /**
   * Moves the expiry of an existing, live session. Resolves `false` when it is missing or expired.
   * With `minExtension` (ms; the manager's rolling renewals pass `touchAfter`) the store may skip
   * the write when it would move the stored expiry by less — another process renewed it already —
   * and still resolves `true`: that keeps read-only traffic of many processes at about one write
   * per session per `touchAfter`. A store that ignores it only writes more.
   */
  touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean>;

  /** Removes the session. Idempotent: destroying a missing session resolves. */
  destroy(id: string): Promise<void>;

  /**
   * Every live session as `[id, record]` pairs, streamed: a store never needs to hold all of them
   * in memory at once. Sessions created, destroyed or expiring during the walk may or may not appear.
   */
  all(): AsyncIterable<[string, SessionRecord]>;

  /** The number of sessions (live ones; a store may count expired ones not yet cleaned). */
  length(): Promise<number>;

  /** Removes every session of this store (and nothing else: other files or keys are left alone). */
  clear(): Promise<void>;

  /**
   * Ends the store object: stops its timers, waits for background work in flight and releases
   * what the store itself opened (a client it created from a URL, a pool). Afterwards every other
   * method rejects with `StoreClosedError`; `close()` itself is idempotent. What is persisted stays
   * (files, keys, rows): the next store on the same backend reads it, as after a restart. Clients
   * and pools the application passed in are left open: the application owns them.
   */
  close(): Promise<void>;

  /**
   * Optional tier, used by `regenerate`: moves the live session `oldId` to the new id `newId` in
   * one step, so that whatever runs concurrently sees either the old session or the new one.
   * Reads `oldId` as stored now (key-level writes of other requests included), creates `newId`
   * with the keys of `move.keep` and the times of `move`, and ends `oldId`, leaving a forward:
   * until `move.forwardUntil`, `destroy(oldId)` also destroys `newId`, so a logout by a request
   * that loaded the old session before the move still ends the session. After the move, `oldId`
   * reads as absent and `update`/`touch` of it resolve `false`.
   *
   * Resolves `{ status: 'moved', data }` with the new session's data; `{ status: 'missing' }`
   * when `oldId` is missing or expired (nothing is created: a logout that came first wins);
   * `{ status: 'collision' }` when `newId` is live (nothing changes; the manager picks another
   * id). A move never counts as a new session against a store's capacity.
   *
   * Without it, the manager moves a session in separate steps (read, create, re-check, destroy),
   * which leaves a short window where a concurrent logout or write is missed.
   */
  move?(oldId: string, newId: string, move: SessionMove): Promise<MoveResult>;

  /**
   * What the store guarantees. Absent means every guarantee holds (our native stores); a store
   * that emulates one only within this process says `'process'`, and the manager refuses a
   * feature that needs a guarantee the store lacks, naming it.
   */
  readonly capabilities?: StoreCapabilities;
}

/** What {@link SessionStore.move} is asked to do. */
export interface SessionMove {
  /** The keys carried to the new session: `true` for all, else these (absent ones are skipped). */
  readonly keep: true | readonly string[];
  /** The new session's `createdAt` (ms since the epoch). */
  readonly createdAt: number;
  /** The new session's `expiresAt` (ms since the epoch). */
  readonly expiresAt: number;
  /** Until when (ms since the epoch) a `destroy` of the old id also destroys the new one. */
  readonly forwardUntil: number;
  /**
   * `'new'` (the default): the store creates `newId`. `'existing'`: the manager just created
   * `newId` (a session bound to a user, through the user index); the kept keys are added to it,
   * its times stay, and `missing` also means it is gone. The user binding is never carried.
   */
  readonly into?: 'new' | 'existing';
}

/** The outcome of {@link SessionStore.move}. */
export type MoveResult =
  | { status: 'moved'; data: Record<string, JsonValue> }
  | { status: 'missing' }
  | { status: 'collision' };

/** A guarantee a store gives everywhere (`true`), within one process only (`'process'`), or not at all (`false`). */
export type Guarantee = boolean | 'process';

/** The guarantees a store states (see {@link SessionStore.capabilities}). */
export interface StoreCapabilities {
  /** `create` is insert-if-absent: an id collision never merges two sessions. */
  readonly atomicCreate: Guarantee;
  /** `update` changes only the given keys: concurrent writes of different keys both land. */
  readonly keyLevelUpdate: Guarantee;
  /** `update` and `touch` never recreate a destroyed session. */
  readonly noResurrection: Guarantee;
  /** `all()` streams without holding every session in memory. */
  readonly streamingAll: boolean;
  /** The store implements the per-user index tier. */
  readonly userIndex: boolean;
}

/**
 * Receives errors from background work (cleanup sweeps, index rebuilds) that has no caller to
 * reject. Default: `process.emitWarning`. It must not throw.
 */
export type BackgroundErrorHandler = (error: Error) => void;

/**
 * The key under which a session bound to a user carries its {@link UserBinding} inside
 * `SessionRecord.data`. The record is the truth about who owns a session: it travels with the
 * data through every store, and an index is only a candidate set checked against it. The manager
 * strips it from what applications see and refuses it as a key of `set`.
 */
export const USER_BINDING_KEY = '__ssjs_user';

/** Who a session belongs to, stored in the session record under {@link USER_BINDING_KEY}. */
export interface UserBinding {
  /** The application's user id. */
  readonly id: string;
  /** The user's epoch when the session was bound; a load under a later epoch refuses the session. */
  readonly epoch: number;
  /** Small application data shown in listings (user agent, IP, a label). */
  readonly meta?: Record<string, JsonValue>;
}

/** How `createForUser` keeps a user within a cap of live sessions. */
export interface UserSessionLimit {
  /** Most live sessions of one user, the new one included. */
  readonly max: number;
  /** `'evict-oldest'` destroys the sessions expiring soonest; `'reject'` refuses the new one. */
  readonly whenFull: 'evict-oldest' | 'reject';
}

/**
 * What `createForUser` did: created (and how many older sessions it evicted), a collision, full,
 * or revoked: the user's epoch had passed the record's binding, so nothing was stored (a login
 * that raced a revocation of its user; only a store that checks the epoch as it creates, as one
 * giving `userCurrent` must, answers this).
 */
export type CreateForUserResult =
  | { readonly status: 'created'; readonly evicted: number }
  | { readonly status: 'collision' }
  | { readonly status: 'full' }
  | { readonly status: 'revoked' };

/**
 * The optional user-index tier (`capabilities.userIndex: true`): sessions bound to a user can be
 * listed and destroyed per user without walking every session, and a per-user epoch lets one
 * revocation refuse even a session the index missed. The session record is the truth; the index
 * is a candidate set that each method verifies against the records (their binding must name the
 * user) and prunes lazily, so expiry keeps it consistent with no background events. The manager
 * detects the tier by these methods and the capability flag, never by class.
 */
export interface UserIndexStore {
  /**
   * Like `create` (insert-if-absent), for a record whose data holds a {@link UserBinding} of
   * `userId`, and adds the session to the user's index in the same step. With `limit`, the
   * user's live sessions stay within `limit.max`: `'evict-oldest'` destroys the ones expiring
   * soonest (resolving how many), `'reject'` writes nothing and resolves `full`. `replacing` is
   * the session a regenerate moves into this one and ends right after: a store bounded in size
   * does not count the new session against its bound while that one is live.
   */
  createForUser(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
    replacing?: string,
  ): Promise<CreateForUserResult>;
  /**
   * The user's live sessions as `[id, record]`: only records whose binding names `userId`, in no
   * particular order. Costs what the user has, never what the store holds.
   */
  listUser(userId: string): Promise<[string, SessionRecord][]>;
  /** Destroys the user's sessions (but `exceptId`); resolves how many live ones were destroyed. */
  destroyUser(userId: string, exceptId?: string): Promise<number>;
  /** The user's epoch: 0 until first raised. */
  userEpoch(userId: string): Promise<number>;
  /**
   * Raises the user's epoch to at least `atLeast` (never lowers it); resolves the new value.
   * The epoch must outlive every session bound before the raise (at least the store's longest
   * session lifetime).
   */
  raiseUserEpoch(userId: string, atLeast: number): Promise<number>;
}
