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
import { EMPTY, ExpiryHeap } from './expiry-heap.js';
import { Forwards } from './forwards.js';
import { type MemoryStoreOptions, resolveMemoryStoreOptions } from './options.js';
import { NO_SLOT, SessionTable } from './session-table.js';
import { decodeValue, encodeField, type Stored } from './stored.js';
import { sweepExpired } from './sweep.js';
import { UserSets } from './user-index.js';

export type { MemoryStoreOptions } from './options.js';

const MISSING: MoveResult = Object.freeze({ status: 'missing' });
const COLLISION: MoveResult = Object.freeze({ status: 'collision' });

/**
 * Sessions in this process's memory: a hash table kept in typed arrays (no object per session
 * for the garbage collector to trace, so a large store does not slow down the requests) plus an
 * expiration index (a min-heap on expiry), so cleanup costs what has expired, not what is
 * stored. Bounded by `maxSessions`. Data is copied on the way in and out (as JSON text; numbers,
 * booleans and null need no copy). Timers are `unref()`'d and start at construction; `close()`
 * stops them. Nothing survives a restart: use FileStore or RedisStore for that.
 *
 * One class over ~300 lines because the table, the expiry heap and the user sets change together
 * in every method (a session is in all of them or in none), behind one set of private helpers;
 * what stands alone is beside it: session-table.ts, packed-id.ts, stored.ts, expiry-heap.ts,
 * forwards.ts, sweep.ts, user-index.ts.
 */
export class MemoryStore implements SessionStore, UserIndexStore {
  readonly maxAge: number;
  readonly cleanupInterval: number;
  readonly indexInterval: number;
  readonly maxSessions: number;
  readonly whenFull: 'evict-oldest' | 'reject';
  #sessions = new SessionTable();
  #index = new ExpiryHeap(this.#sessions);
  /** Streams (`all()`) running: the table is not compacted under them. */
  #streams = 0;
  readonly #users = new UserSets();
  readonly #onError: BackgroundErrorHandler | undefined;
  /** Where regenerated sessions went, for a logout racing the regenerate; swept with the rest. */
  readonly #forwards: Forwards;
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
    const slot = this.#live(id, Date.now());
    if (slot === NO_SLOT) return undefined;
    const record = this.#record(slot);
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
    if (this.#live(id, now) !== NO_SLOT) return false;
    this.#insert(id, record, now, false);
    return true;
  }

  /** Stores a new entry; `replacing` when a live session is about to give up its place to it. */
  #insert(id: string, record: SessionRecord, now: number, replacing: boolean): void {
    // Encode every value before storing anything, so a value JSON refuses stores nothing.
    const data = record.data;
    const keys = Object.keys(data);
    const values = keys.map((key) => encodeField(key, data[key]));
    if (!replacing && this.#sessions.size >= this.maxSessions) this.#makeRoom(now);
    const slot = this.#sessions.add(id, record.createdAt, this.#clamp(record.expiresAt, now));
    for (let i = 0; i < keys.length; i++) {
      const value = values[i];
      if (value !== undefined) this.#sessions.setField(slot, keys[i]!, value);
    }
    this.#index.push(slot);
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const slot = this.#live(id, now);
    if (slot === NO_SLOT) return false;
    const sessions = this.#sessions;
    const set = changes.set;
    if (set) {
      const keys = Object.keys(set);
      if (keys.length === 1) {
        const key = keys[0]!;
        const value = encodeField(key, set[key]);
        if (value !== undefined) sessions.setField(slot, key, value);
      } else {
        // Encode every value before changing anything, so a value JSON refuses changes nothing.
        const values = keys.map((key) => encodeField(key, set[key]));
        for (let i = 0; i < keys.length; i++) {
          const value = values[i];
          if (value !== undefined) sessions.setField(slot, keys[i]!, value);
        }
      }
    }
    if (changes.unset) for (const key of changes.unset) sessions.unsetField(slot, key);
    this.#moveExpiry(slot, this.#clamp(expiresAt, now));
    return true;
  }

  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const slot = this.#live(id, now);
    if (slot === NO_SLOT) return false;
    const target = this.#clamp(expiresAt, now);
    if (
      minExtension !== undefined &&
      target - (this.#sessions.expiry[slot] as number) < minExtension
    ) {
      return true;
    }
    this.#moveExpiry(slot, target);
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
    if (old === NO_SLOT) return MISSING;
    const existing = this.#live(newId, now);
    if (move.into === 'existing' ? existing === NO_SLOT : existing !== NO_SLOT) {
      return existing === NO_SLOT ? MISSING : COLLISION;
    }
    const keep = move.keep;
    const fields: [string, Stored][] = [];
    this.#sessions.forEachField(old, (key, value) => {
      if (isCarried(key) && (keep === true || keep.includes(key))) fields.push([key, value]);
    });
    // The new session takes the old one's place (no eviction): the old one goes first.
    this.#delete(old);
    const sessions = this.#sessions;
    const slot =
      existing !== NO_SLOT
        ? existing
        : sessions.add(newId, move.createdAt, this.#clamp(move.expiresAt, now));
    const carried: Record<string, JsonValue> = Object.create(null);
    for (const [key, value] of fields) {
      sessions.setField(slot, key, value);
      carried[key] = decodeValue(value);
    }
    if (slot !== existing) this.#index.push(slot);
    this.#forwards.add(oldId, newId, move.forwardUntil);
    return { status: 'moved', data: carried };
  }

  /**
   * Every live session, one at a time (in slot order, not creation order). Sessions created or
   * removed while the stream runs may or may not be in it; none is in it twice, and a `clear()`
   * ends it.
   */
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    this.#assertOpen();
    const sessions = this.#sessions;
    this.#streams++;
    try {
      for (let slot = 0; slot < sessions.end && sessions === this.#sessions; slot++) {
        if (!sessions.isLive(slot) || (sessions.expiry[slot] as number) <= Date.now()) continue;
        yield [sessions.idOf(slot), this.#record(slot)];
      }
    } finally {
      this.#streams--;
    }
  }

  async length(): Promise<number> {
    this.#assertOpen();
    return this.#sessions.size;
  }

  async clear(): Promise<void> {
    this.#assertOpen();
    this.#reset(new SessionTable());
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
    if (this.#live(id, now) !== NO_SLOT) return { status: 'collision' };
    let evicted = 0;
    if (limit) {
      const live = this.#userSlots(userId, now);
      if (live.length >= limit.max) {
        if (limit.whenFull === 'reject') return { status: 'full' };
        const sessions = this.#sessions;
        const expiry = sessions.expiry;
        live.sort(
          (a, b) =>
            (expiry[a] as number) - (expiry[b] as number) ||
            sessions.createdAt(a) - sessions.createdAt(b),
        );
        for (const slot of live.slice(0, live.length - limit.max + 1)) this.#delete(slot);
        evicted = live.length - limit.max + 1;
      }
    }
    // Runs to completion synchronously (no await inside), so nothing slips in between. A
    // regenerate's new session takes the place of the one it replaces: no room is made for it.
    this.#insert(
      id,
      record,
      now,
      replacing !== undefined && this.#live(replacing, now) !== NO_SLOT,
    );
    this.#users.add(userId, id);
    return { status: 'created', evicted };
  }

  async listUser(userId: string): Promise<[string, SessionRecord][]> {
    this.#assertOpen();
    const sessions = this.#sessions;
    return this.#userSlots(userId, Date.now()).map((slot) => [
      sessions.idOf(slot),
      this.#record(slot),
    ]);
  }

  async destroyUser(userId: string, exceptId?: string): Promise<number> {
    this.#assertOpen();
    const sessions = this.#sessions;
    const live = this.#userSlots(userId, Date.now()).filter(
      (slot) => exceptId === undefined || sessions.idOf(slot) !== exceptId,
    );
    for (const slot of live) this.#delete(slot);
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
    this.#reset(new SessionTable());
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
      () => this.#index,
      () => this.#sessions.expiry,
      Date.now,
      (slot) => this.#delete(slot),
    ).finally(() => {
      this.#sweep = undefined;
    });
    return this.#sweep;
  }

  /**
   * Rebuilds the expiration index in O(n). After mass deletions (under a quarter of the room
   * used) the table and the index are compacted too, giving their memory back; not while an
   * `all()` stream runs (it walks the table by position).
   */
  rebuildIndex(): void {
    const sessions = this.#sessions;
    if (this.#streams === 0 && sessions.size * 4 < sessions.capacity && sessions.capacity > 64) {
      this.#reset(sessions.compacted());
      const compacted = this.#sessions;
      for (let slot = 0; slot < compacted.end; slot++) this.#index.push(slot);
    } else {
      this.#index.rebuild();
    }
  }

  /** Starts over on `sessions` with an empty index (the caller fills it, if it should hold any). */
  #reset(sessions: SessionTable): void {
    this.#sessions = sessions;
    this.#index = new ExpiryHeap(sessions);
  }

  /** The slots of the user's live sessions; expired ones met on the way are dropped. */
  #userSlots(userId: string, now: number): number[] {
    const slots: number[] = [];
    for (const id of this.#users.ids(userId)) {
      const slot = this.#live(id, now);
      if (slot !== NO_SLOT) slots.push(slot);
    }
    return slots;
  }

  /** Removes `id`, and the sessions it was moved to while the forward lasts. */
  #destroy(id: string): void {
    const slot = this.#sessions.find(id);
    if (slot !== NO_SLOT) this.#delete(slot);
    const to = this.#forwards.take(id, Date.now());
    if (to !== undefined) this.#destroy(to);
  }

  /** The slot of `id` while it is live; an expired one met here is removed. */
  #live(id: string, now: number): number {
    const slot = this.#sessions.find(id);
    if (slot === NO_SLOT || (this.#sessions.expiry[slot] as number) > now) return slot;
    this.#delete(slot);
    return NO_SLOT;
  }

  #makeRoom(now: number): void {
    const oldest = this.#index.peek();
    if (oldest !== EMPTY && (this.#sessions.expiry[oldest] as number) <= now) {
      this.#delete(oldest);
      return;
    }
    if (this.whenFull === 'reject') {
      throw new StoreFullError(`the MemoryStore holds maxSessions (${this.maxSessions}) sessions`);
    }
    if (oldest !== EMPTY) this.#delete(oldest);
  }

  #moveExpiry(slot: number, expiresAt: number): void {
    const expiry = this.#sessions.expiry;
    if (expiresAt === expiry[slot]) return;
    expiry[slot] = expiresAt;
    this.#index.update(slot);
  }

  /** A fresh copy of the session. */
  #record(slot: number): SessionRecord {
    const sessions = this.#sessions;
    return {
      data: sessions.decode(slot),
      createdAt: sessions.createdAt(slot),
      expiresAt: sessions.expiry[slot] as number,
    };
  }

  #delete(slot: number): void {
    this.#index.remove(slot);
    if (this.#users.size > 0) this.#users.remove(this.#sessions.idOf(slot));
    this.#sessions.remove(slot);
  }

  #clamp(expiresAt: number, now: number): number {
    return Math.min(expiresAt, now + this.maxAge);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
