import { boundUserOf, isCarried } from '../../data.js';
import { reportBackgroundError, StoreClosedError, StoreFullError } from '../../errors.js';
import { assertValidSessionId } from '../../id.js';
import type {
  BackgroundErrorHandler,
  CreateForUserResult,
  JsonValue,
  MoveResult,
  SessionChanges,
  SessionMove,
  SessionRecord,
  SessionStore,
  UserIndexStore,
  UserSessionLimit,
} from '../../types.js';
import {
  decode,
  decodeValue,
  Entry,
  encodeField,
  type Stored,
  setField,
  unsetField,
} from './entry.js';
import { ExpiryHeap } from './expiry-heap.js';
import { Forwards } from './forwards.js';
import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './options.js';
import { sweepExpired } from './sweep.js';
import { UserSets } from './user-index.js';

export type { MemoryStoreOptions } from './options.js';

const MISSING: MoveResult = Object.freeze({ status: 'missing' });
const COLLISION: MoveResult = Object.freeze({ status: 'collision' });

/**
 * Sessions in this process's memory: a `Map` plus an expiration index (a min-heap on expiry), so
 * cleanup costs what has expired, not what is stored. Bounded by `maxSessions`. Data is copied
 * on the way in and out (as JSON text; numbers, booleans and null need no copy). Timers are
 * `unref()`'d and start at construction; `close()` stops them. Nothing survives a restart: use
 * FileStore or RedisStore for that.
 *
 * One class over ~300 lines because the `Map`, the expiry heap and the user sets change together
 * in every method (an entry is in all of them or in none), behind one set of private helpers;
 * what stands alone is beside it: entry.ts, expiry-heap.ts, forwards.ts, sweep.ts, user-index.ts.
 */
export class MemoryStore implements SessionStore, UserIndexStore {
  readonly maxAge: number;
  readonly cleanupInterval: number;
  readonly indexInterval: number;
  readonly maxSessions: number;
  readonly whenFull: 'evict-oldest' | 'reject';
  readonly #sessions = new Map<string, Entry>();
  readonly #index = new ExpiryHeap<Entry>();
  readonly #users = new UserSets();
  readonly #onError: BackgroundErrorHandler | undefined;
  /** Where regenerated sessions went, for a logout racing the regenerate; swept with the rest. */
  readonly #forwards: Forwards;
  /** Origin of the entries' times (see `Entry`). */
  readonly #base = Date.now();
  #cleanupTimer: NodeJS.Timeout | undefined;
  #indexTimer: NodeJS.Timeout | undefined;
  #sweep: Promise<number> | undefined;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const resolved = resolveMemoryStoreOptions(options);
    this.maxAge = resolved.maxAge;
    this.cleanupInterval = resolved.cleanupInterval;
    this.indexInterval = resolved.indexInterval;
    this.maxSessions = resolved.maxSessions;
    this.whenFull = resolved.whenFull;
    this.#onError = resolved.onError;
    this.#forwards = new Forwards(this.maxSessions);
    if (this.cleanupInterval > 0) this.startCleanup();
    if (this.indexInterval > 0) this.startIndexRebuild();
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    this.#assertOpen();
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    const record = this.#record(entry);
    // A bound session carries its user's epoch, read here with it: no second call per request.
    if (this.#users.size > 0) {
      const user = boundUserOf(record.data);
      if (user !== undefined) record.userEpoch = this.#users.epoch(user);
    }
    return record;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    if (this.#live(id, now)) return false;
    this.#insert(id, record, now, false);
    return true;
  }

  /** Stores a new entry; `replacing` when a live session is about to give up its place to it. */
  #insert(id: string, record: SessionRecord, now: number, replacing: boolean): void {
    const base = this.#base;
    const entry = new Entry(id, record.createdAt - base, this.#clamp(record.expiresAt, now) - base);
    const data = record.data;
    for (const key of Object.keys(data)) {
      const value = encodeField(key, data[key]);
      if (value !== undefined) setField(entry, key, value);
    }
    if (!replacing && this.#sessions.size >= this.maxSessions) this.#makeRoom(now);
    this.#sessions.set(id, entry);
    this.#index.push(entry);
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry) return false;
    const set = changes.set;
    if (set) {
      const keys = Object.keys(set);
      if (keys.length === 1) {
        const key = keys[0]!;
        const value = encodeField(key, set[key]);
        if (value !== undefined) setField(entry, key, value);
      } else {
        // Encode every value before changing anything, so a value JSON refuses changes nothing.
        const values = keys.map((key) => encodeField(key, set[key]));
        for (let i = 0; i < keys.length; i++) {
          const value = values[i];
          if (value !== undefined) setField(entry, keys[i]!, value);
        }
      }
    }
    if (changes.unset) for (const key of changes.unset) unsetField(entry, key);
    this.#moveExpiry(entry, this.#clamp(expiresAt, now));
    return true;
  }

  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry) return false;
    const target = this.#clamp(expiresAt, now);
    if (minExtension !== undefined && target - (entry.expiry + this.#base) < minExtension) {
      return true;
    }
    this.#moveExpiry(entry, target);
    return true;
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    this.#assertOpen();
    this.#destroy(id);
  }

  /** Moves a session in one synchronous step; the new one takes the old one's place (no eviction). */
  async move(oldId: string, newId: string, move: SessionMove): Promise<MoveResult> {
    assertValidSessionId(oldId);
    assertValidSessionId(newId);
    this.#assertOpen();
    const now = Date.now();
    const old = this.#live(oldId, now);
    if (!old) return MISSING;
    const existing = this.#live(newId, now);
    let entry: Entry;
    if (move.into === 'existing') {
      if (!existing) return MISSING;
      entry = existing;
    } else {
      if (existing) return COLLISION;
      const base = this.#base;
      entry = new Entry(newId, move.createdAt - base, this.#clamp(move.expiresAt, now) - base);
    }
    const keep = move.keep;
    const carried: Record<string, JsonValue> = Object.create(null);
    const carry = (key: string, value: Stored) => {
      if (!isCarried(key) || (keep !== true && !keep.includes(key))) return;
      setField(entry, key, value);
      carried[key] = decodeValue(value);
    };
    if (old.key !== undefined) carry(old.key, old.value);
    const more = old.more;
    if (more)
      for (let i = 0; i < more.length; i += 2) carry(more[i] as string, more[i + 1] as Stored);
    this.#delete(old);
    if (entry !== existing) {
      this.#sessions.set(newId, entry);
      this.#index.push(entry);
    }
    this.#forwards.add(oldId, newId, move.forwardUntil);
    return { status: 'moved', data: carried };
  }

  async *all(): AsyncGenerator<[string, SessionRecord]> {
    this.#assertOpen();
    for (const [id, entry] of this.#sessions) {
      if (entry.expiry <= Date.now() - this.#base) continue;
      yield [id, this.#record(entry)];
    }
  }

  async length(): Promise<number> {
    this.#assertOpen();
    return this.#sessions.size;
  }

  async clear(): Promise<void> {
    this.#assertOpen();
    this.#sessions.clear();
    this.#index.clear();
    this.#users.clear();
    this.#forwards.clear();
  }

  async createForUser(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
    replacing?: string,
  ): Promise<CreateForUserResult> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    if (this.#live(id, now)) return { status: 'collision' };
    let evicted = 0;
    if (limit) {
      const live = this.#userEntries(userId, now);
      if (live.length >= limit.max) {
        if (limit.whenFull === 'reject') return { status: 'full' };
        live.sort((a, b) => a.expiry - b.expiry || a.created - b.created);
        for (const entry of live.slice(0, live.length - limit.max + 1)) this.#delete(entry);
        evicted = live.length - limit.max + 1;
      }
    }
    // Runs to completion synchronously (no await inside), so nothing slips in between. A
    // regenerate's new session takes the place of the one it replaces: no room is made for it.
    this.#insert(
      id,
      record,
      now,
      replacing !== undefined && this.#live(replacing, now) !== undefined,
    );
    this.#users.add(userId, id);
    return { status: 'created', evicted };
  }

  async listUser(userId: string): Promise<[string, SessionRecord][]> {
    this.#assertOpen();
    return this.#userEntries(userId, Date.now()).map((entry) => [entry.id, this.#record(entry)]);
  }

  async destroyUser(userId: string, exceptId?: string): Promise<number> {
    this.#assertOpen();
    const live = this.#userEntries(userId, Date.now()).filter((entry) => entry.id !== exceptId);
    for (const entry of live) this.#delete(entry);
    return live.length;
  }

  async userEpoch(userId: string): Promise<number> {
    this.#assertOpen();
    return this.#users.epoch(userId);
  }

  async raiseUserEpoch(userId: string, atLeast: number): Promise<number> {
    this.#assertOpen();
    return this.#users.raiseEpoch(userId, atLeast);
  }

  /** Stops the timers and drops every session (they live only here); later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    this.stopCleanup();
    this.stopIndexRebuild();
    this.#sessions.clear();
    this.#index.clear();
    this.#users.clear();
  }

  /** Starts (or restarts) the cleanup timer, every `cleanupInterval` ms (60 000 when that is 0). */
  startCleanup(): void {
    this.stopCleanup();
    const every = this.cleanupInterval || 60_000;
    this.#cleanupTimer = setInterval(() => {
      this.cleanup().catch((error) => reportBackgroundError(this.#onError, error));
    }, every).unref();
  }

  stopCleanup(): void {
    if (this.#cleanupTimer) clearInterval(this.#cleanupTimer);
    this.#cleanupTimer = undefined;
  }

  /** Starts (or restarts) the index rebuild timer, every `indexInterval` ms (600 000 when that is 0). */
  startIndexRebuild(): void {
    this.stopIndexRebuild();
    const every = this.indexInterval || 600_000;
    this.#indexTimer = setInterval(() => {
      try {
        this.rebuildIndex();
      } catch (error) {
        reportBackgroundError(this.#onError, error);
      }
    }, every).unref();
  }

  stopIndexRebuild(): void {
    if (this.#indexTimer) clearInterval(this.#indexTimer);
    this.#indexTimer = undefined;
  }

  /**
   * Removes every expired session now; resolves how many were removed. The work is cut into
   * slices of about 2 ms with the event loop served in between, and only one sweep runs at a time.
   */
  cleanup(): Promise<number> {
    this.#forwards.prune(Date.now());
    this.#sweep ??= sweepExpired(
      this.#index,
      () => Date.now() - this.#base,
      (entry) => this.#delete(entry),
    ).finally(() => {
      this.#sweep = undefined;
    });
    return this.#sweep;
  }

  /** Rebuilds the expiration index in O(n), compacting its array after mass deletions. */
  rebuildIndex(): void {
    this.#index.rebuild();
  }

  /** The user's live entries; expired ones met on the way are dropped. */
  #userEntries(userId: string, now: number): Entry[] {
    const entries: Entry[] = [];
    for (const id of this.#users.ids(userId)) {
      const entry = this.#live(id, now);
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** Removes `id`, and the sessions it was moved to while the forward lasts. */
  #destroy(id: string): void {
    const entry = this.#sessions.get(id);
    if (entry) this.#delete(entry);
    const to = this.#forwards.take(id, Date.now());
    if (to !== undefined) this.#destroy(to);
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#sessions.get(id);
    if (!entry) return undefined;
    if (entry.expiry > now - this.#base) return entry;
    this.#delete(entry);
    return undefined;
  }

  #makeRoom(now: number): void {
    const oldest = this.#index.peek();
    if (oldest && oldest.expiry <= now - this.#base) {
      this.#delete(oldest);
      return;
    }
    if (this.whenFull === 'reject') {
      throw new StoreFullError(`the MemoryStore holds maxSessions (${this.maxSessions}) sessions`);
    }
    if (oldest) this.#delete(oldest);
  }

  #moveExpiry(entry: Entry, expiresAt: number): void {
    const expiry = expiresAt - this.#base;
    if (expiry === entry.expiry) return;
    entry.expiry = expiry;
    this.#index.update(entry);
  }

  /** A fresh copy of the session, times back in ms since the epoch. */
  #record(entry: Entry): SessionRecord {
    const base = this.#base;
    return { data: decode(entry), createdAt: entry.created + base, expiresAt: entry.expiry + base };
  }

  #delete(entry: Entry): void {
    this.#sessions.delete(entry.id);
    this.#index.remove(entry);
    if (this.#users.size > 0) this.#users.remove(entry.id);
  }

  #clamp(expiresAt: number, now: number): number {
    return Math.min(expiresAt, now + this.maxAge);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
