/**
 * `fromExpressStore(store)`: any express-session store (connect-redis, connect-pg-simple,
 * session-file-store, memorystore, express-session's `MemoryStore`, …) as a session-store-js
 * store.
 *
 * express-session's interface is `get`/`set`/`destroy` of whole session objects, so what our
 * contract promises is emulated within this process and stated in `capabilities`:
 * - `create` is get-then-set and `update` read-merge-write, each under a per-id lock: two writes
 *   of one session in this process never overwrite each other, but two processes can.
 * - `touch` reads first and rewrites the session with the new expiry, so a missing session is
 *   never created (session-file-store's own `touch` would create one) and the stored
 *   `cookie.expires`, which this adapter trusts, never goes stale (connect-redis's and
 *   connect-pg-simple's `touch` only move the backend's TTL).
 * - ids destroyed in this process are refused for a while, so a write in flight can't undo a
 *   logout here; another process can still write the session back.
 * - `cookie.expires` is checked on every read, whatever the store does; stores that keep their
 *   TTL in whole seconds (connect-redis, connect-pg-simple round it up) hold a session up to a
 *   second longer, but it reads as missing from its exact expiry on.
 *
 * The wrapped store is never mutated (no method replaced, no property set) and never closed: an
 * express-session app may share it during a migration.
 *
 * The options and capabilities are in `from-express-store-options.ts`, how a store is listed in
 * `express-store-listing.ts`; what stays here is the one class whose methods share the per-id
 * lock and the destroyed ids.
 */
import {
  InvalidSessionDataError,
  NotSupportedError,
  reportBackgroundError,
  StoreClosedError,
  StoreUnavailableError,
} from '../errors.js';
import { assertValidSessionId, isValidSessionId } from '../id.js';
import { KeyedQueue } from '../keyed-queue.js';
import {
  callLegacy,
  DEFAULT_LEGACY_TIMEOUT_MS,
  DEFAULT_LEGACY_TTL_MS,
  type ExpressStoreLike,
  isExpressStoreLike,
  type LegacyMethod,
} from '../legacy-call.js';
import {
  assertWritableKey,
  fromLegacySession,
  type LegacyCookieOptions,
  type LegacyRead,
  toLegacySession,
} from '../legacy-session.js';
import type {
  BackgroundErrorHandler,
  JsonValue,
  SessionChanges,
  SessionRecord,
  SessionStore,
  StoreCapabilities,
} from '../types.js';
import { intervalMs, lifetimeMs, optionalFunction, optionsObject, refuse } from '../validate.js';
import { DestroyedIds } from './destroyed-ids.js';
import { listIds, normalizeAll } from './express-store-listing.js';
import {
  EXPRESS_STORE_CAPABILITIES,
  type ExpressStoreEntry,
  type FromExpressStoreOptions,
} from './from-express-store-options.js';

export {
  EXPRESS_STORE_CAPABILITIES,
  type ExpressStoreEntry,
  type FromExpressStoreOptions,
} from './from-express-store-options.js';

/** How long a destroyed id is refused, at least (ms); four timeouts when that is longer. */
const DESTROYED_MIN_MS = 60_000;
/** How many destroyed ids are remembered at most. */
const DESTROYED_MAX = 100_000;
/** Parallel `get`s when a listing has to read sessions one by one (`ids()` stores). */
const READ_CONCURRENCY = 16;

/** An express-session store seen through the session-store-js contract. */
export class ExpressStoreAdapter implements SessionStore {
  /** The guarantees emulated within this process. */
  readonly capabilities: StoreCapabilities = EXPRESS_STORE_CAPABILITIES;
  /** The wrapped express-session store. */
  readonly source: ExpressStoreLike;
  readonly #timeout: number;
  readonly #ttl: number;
  readonly #cookie: LegacyCookieOptions | undefined;
  readonly #onError: BackgroundErrorHandler | undefined;
  readonly #locks = new KeyedQueue();
  readonly #destroyed: DestroyedIds;
  #closed = false;

  constructor(store: ExpressStoreLike, options?: FromExpressStoreOptions) {
    if (!isExpressStoreLike(store)) {
      refuse('store', 'an express-session store (with get, set and destroy methods)', store);
    }
    const settings = optionsObject('fromExpressStore options', options);
    this.source = store;
    this.#timeout = intervalMs('timeout', settings.timeout, DEFAULT_LEGACY_TIMEOUT_MS, 1);
    this.#ttl = lifetimeMs('ttl', settings.ttl, DEFAULT_LEGACY_TTL_MS);
    this.#cookie =
      settings.cookie === undefined ? undefined : optionsObject('cookie', settings.cookie);
    this.#onError = optionalFunction('onError', settings.onError);
    this.#destroyed = new DestroyedIds(
      Math.max(DESTROYED_MIN_MS, 4 * this.#timeout),
      DESTROYED_MAX,
    );
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#check(id);
    if (this.#destroyed.has(id)) return undefined;
    return this.#read(await this.#call('get', [id]))?.record;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    this.#check(id);
    for (const key of Object.keys(record.data)) assertWritableKey(key);
    return this.#locks.run(id, async () => {
      if (this.#destroyed.has(id)) return false;
      if (this.#read(await this.#call('get', [id]))) return false;
      await this.#call('set', [id, toLegacySession(record, Date.now(), this.#cookie)]);
      return true;
    });
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    this.#check(id);
    const set = changes.set ?? {};
    for (const key of Object.keys(set)) assertWritableKey(key);
    return this.#rewrite(id, expiresAt, (data) => {
      for (const key of Object.keys(set)) data[key] = set[key] as JsonValue;
      for (const key of changes.unset ?? []) delete data[key];
    });
  }

  /** With `minExtension`, a session whose stored expiry would move by less is left as it is. */
  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    this.#check(id);
    return this.#rewrite(id, expiresAt, undefined, minExtension);
  }

  async destroy(id: string): Promise<void> {
    this.#check(id);
    this.#destroyed.add(id);
    await this.#locks.run(id, () => this.#call('destroy', [id]));
  }

  /**
   * Every live session with a valid id. Not streaming: express-session's `all()` hands over every
   * session at once (stores listed through `ids()` or session-file-store's `list()` are read in
   * small batches instead). `NotSupportedError` when the store can't be listed.
   */
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    for await (const entry of this.entries()) {
      if (entry.record) yield [entry.id, entry.record];
    }
  }

  /**
   * Every stored session that has not expired, including those that can't be used (an id our
   * pattern refuses, an unreadable object: `record` is `undefined`), for migrations to count.
   *
   * `all()` comes in three shapes: an object keyed by id (express-session's MemoryStore,
   * memorystore), an array whose items carry their id as `id` or `sid` (connect-redis), and an
   * array without ids (connect-mongo). Without ids the sessions can't be used; the store's
   * `ids()` (or session-file-store's `list()`) is used instead when it has one, else
   * `NotSupportedError`.
   */
  async *entries(): AsyncGenerator<ExpressStoreEntry> {
    this.#open();
    const store = this.source;
    if (typeof store.all === 'function') {
      const listed = normalizeAll(await this.#call('all', []));
      if (listed) {
        for (const [id, value] of listed) {
          const entry = this.#entry(id, value);
          if (entry) yield entry;
        }
        return;
      }
    }
    const ids = await listIds(this.source, (method) => this.#call(method, []));
    for (let i = 0; i < ids.length; i += READ_CONCURRENCY) {
      const batch = ids.slice(i, i + READ_CONCURRENCY);
      const values = await Promise.all(
        batch.map((id) => (isValidSessionId(id) ? this.#call('get', [id]) : undefined)),
      );
      for (const [j, id] of batch.entries()) {
        // A session that went away since it was listed is no entry at all.
        if ((values[j] === undefined || values[j] === null) && isValidSessionId(id)) continue;
        const entry = this.#entry(id, values[j]);
        if (entry) yield entry;
      }
    }
  }

  async length(): Promise<number> {
    this.#open();
    if (typeof this.source.length !== 'function') {
      throw new NotSupportedError(
        'the express-session store has no length() method, so its sessions cannot be counted',
      );
    }
    const n = await this.#call('length', []);
    if (typeof n !== 'number') {
      throw new StoreUnavailableError("the express-session store's length() gave no number");
    }
    return n;
  }

  async clear(): Promise<void> {
    this.#open();
    if (typeof this.source.clear !== 'function') {
      throw new NotSupportedError(
        'the express-session store has no clear() method, so its sessions cannot be cleared',
      );
    }
    await this.#call('clear', []);
  }

  /** Makes the adapter unusable. The wrapped store is left open: the application owns it. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Read-modify-write of a live session under its lock; `false` when it is gone. */
  #rewrite(
    id: string,
    expiresAt: number,
    change: ((data: Record<string, JsonValue>) => void) | undefined,
    minExtension = 0,
  ): Promise<boolean> {
    return this.#locks.run(id, async () => {
      if (this.#destroyed.has(id)) return false;
      const stored = await this.#call('get', [id]);
      const current = this.#read(stored);
      if (!current || this.#destroyed.has(id)) return false;
      const { data, createdAt } = current.record;
      if (minExtension > 0 && expiresAt - current.record.expiresAt < minExtension) return true;
      change?.(data);
      const cookie = (stored as { cookie?: unknown }).cookie;
      const session = toLegacySession(
        { data, createdAt, expiresAt },
        Date.now(),
        cookie !== null && typeof cookie === 'object' ? cookie : this.#cookie,
      );
      await this.#call('set', [id, session]);
      return true;
    });
  }

  #entry(id: string, value: unknown): ExpressStoreEntry | undefined {
    if (!isValidSessionId(id)) return { id, record: undefined };
    if (this.#destroyed.has(id)) return undefined;
    const read = fromLegacySession(value, Date.now(), this.#ttl);
    if (read === 'expired') return undefined;
    if (read === 'invalid') return { id, record: undefined };
    this.#report(read);
    return { id, record: read.record };
  }

  /** A stored value as a live record, `undefined` when it is missing, expired or unreadable. */
  #read(value: unknown): LegacyRead | undefined {
    if (value === undefined || value === null) return undefined;
    const read = fromLegacySession(value, Date.now(), this.#ttl);
    if (typeof read === 'string') return undefined;
    this.#report(read);
    return read;
  }

  #report(read: LegacyRead): void {
    if (read.dropped.length === 0) return;
    reportBackgroundError(
      this.#onError,
      new InvalidSessionDataError(
        `a session in the express-session store had data JSON can't hold; dropped ${read.dropped.join('; ')}`,
      ),
    );
  }

  #call(method: LegacyMethod, args: unknown[]): Promise<unknown> {
    return callLegacy(this.source, method, args, this.#timeout);
  }

  #check(id: string): void {
    assertValidSessionId(id);
    this.#open();
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

/**
 * Wraps an express-session store as a session-store-js store:
 * `new SessionManager({ store: fromExpressStore(new PgSession({ pool })), secret })`.
 * See {@link ExpressStoreAdapter} for what is emulated and what is lost.
 */
export function fromExpressStore(
  store: ExpressStoreLike,
  options?: FromExpressStoreOptions,
): ExpressStoreAdapter {
  return new ExpressStoreAdapter(store, options);
}
