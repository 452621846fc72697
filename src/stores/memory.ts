import {
  InvalidOptionError,
  reportBackgroundError,
  StoreClosedError,
  StoreFullError,
} from '../errors.js';
import { assertValidSessionId } from '../id.js';
import type {
  BackgroundErrorHandler,
  JsonValue,
  SessionChanges,
  SessionRecord,
  SessionStore,
} from '../types.js';
import { ExpiryHeap, type HeapEntry } from './expiry-heap.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Longest time (ms) a session is kept after its last write; the store clamps every expiry to
   * it. Default: the manager's `maxAge`, or 86 400 000 (one day) for a store built by hand.
   */
  maxAge?: number;
  /** How often (ms) expired sessions are removed. `0` disables the timer. Default: 60 000. */
  cleanupInterval?: number;
  /** How often (ms) the expiration index is rebuilt and compacted. `0` disables. Default: 600 000. */
  indexInterval?: number;
  /** Most sessions held at once; see `whenFull`. Default: 100 000. */
  maxSessions?: number;
  /**
   * What creating a session does when `maxSessions` are held. `'evict-oldest'` removes the
   * session that expires soonest — the one idle the longest — and creates the new one;
   * `'reject'` refuses the new session with `StoreFullError` (code `STORE_FULL`) and keeps every
   * existing one, so a flood of new visitors can't log anybody out. Default: `'evict-oldest'`.
   */
  whenFull?: 'evict-oldest' | 'reject';
  /** Receives errors from the background timers. Default: `process.emitWarning`. */
  onError?: BackgroundErrorHandler;
}

interface Entry extends HeapEntry {
  id: string;
  /**
   * The session data as `[key, json, key, json, …]`: compact, a copy nobody outside can mutate,
   * and a `set` of one key re-serializes only that key's value.
   */
  fields: string[];
  createdAt: number;
}

/** Work done by one slice of a sweep before yielding to the event loop. */
const SLICE_MS = 2;

/**
 * Sessions in this process's memory: a `Map` plus an expiration index (a min-heap on expiry), so
 * cleanup costs what has expired, not what is stored. Bounded by `maxSessions`. Data is kept as
 * JSON text, so it is copied on the way in and out. Timers are `unref()`'d and start at
 * construction; `close()` stops them. Nothing survives a restart: use FileStore or RedisStore
 * for that.
 */
export class MemoryStore implements SessionStore {
  readonly maxAge: number;
  readonly cleanupInterval: number;
  readonly indexInterval: number;
  readonly maxSessions: number;
  readonly whenFull: 'evict-oldest' | 'reject';
  readonly #sessions = new Map<string, Entry>();
  readonly #index = new ExpiryHeap<Entry>();
  readonly #onError: BackgroundErrorHandler | undefined;
  #cleanupTimer: NodeJS.Timeout | undefined;
  #indexTimer: NodeJS.Timeout | undefined;
  #sweep: Promise<number> | undefined;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        `MemoryStore options must be an object (got ${String(options)})`,
      );
    }
    this.maxAge = positive('maxAge', options.maxAge, 86_400_000);
    this.cleanupInterval = nonNegative('cleanupInterval', options.cleanupInterval, 60_000);
    this.indexInterval = nonNegative('indexInterval', options.indexInterval, 600_000);
    this.maxSessions = positive('maxSessions', options.maxSessions, 100_000);
    const whenFull = options.whenFull ?? 'evict-oldest';
    if (whenFull !== 'evict-oldest' && whenFull !== 'reject') {
      throw new InvalidOptionError(
        `whenFull must be 'evict-oldest' or 'reject' (got ${JSON.stringify(whenFull)})`,
      );
    }
    this.whenFull = whenFull;
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new InvalidOptionError('onError must be a function');
    }
    this.#onError = options.onError;
    if (this.cleanupInterval > 0) this.startCleanup();
    if (this.indexInterval > 0) this.startIndexRebuild();
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    const entry = this.#live(id, Date.now());
    if (!entry) return undefined;
    return { data: decode(entry.fields), createdAt: entry.createdAt, expiresAt: entry.expiresAt };
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    if (this.#live(id, now)) return false;
    if (this.#sessions.size >= this.maxSessions) this.#makeRoom(now);
    const entry: Entry = {
      id,
      fields: encode(record.data),
      createdAt: record.createdAt,
      expiresAt: this.#clamp(record.expiresAt, now),
      heapIndex: -1,
    };
    this.#sessions.set(id, entry);
    this.#index.push(entry);
    return true;
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry) return false;
    if (changes.set)
      for (const key of Object.keys(changes.set)) setField(entry.fields, key, changes.set[key]!);
    if (changes.unset) for (const key of changes.unset) unsetField(entry.fields, key);
    this.#moveExpiry(entry, this.#clamp(expiresAt, now));
    return true;
  }

  async touch(id: string, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry) return false;
    this.#moveExpiry(entry, this.#clamp(expiresAt, now));
    return true;
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    const entry = this.#sessions.get(id);
    if (entry) this.#delete(entry);
  }

  async *all(): AsyncGenerator<[string, SessionRecord]> {
    for (const [id, entry] of this.#sessions) {
      if (entry.expiresAt <= Date.now()) continue;
      yield [
        id,
        { data: decode(entry.fields), createdAt: entry.createdAt, expiresAt: entry.expiresAt },
      ];
    }
  }

  async length(): Promise<number> {
    return this.#sessions.size;
  }

  async clear(): Promise<void> {
    this.#sessions.clear();
    this.#index.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.stopCleanup();
    this.stopIndexRebuild();
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
    this.#sweep ??= this.#runSweep().finally(() => {
      this.#sweep = undefined;
    });
    return this.#sweep;
  }

  /** Rebuilds the expiration index in O(n), compacting its array after mass deletions. */
  rebuildIndex(): void {
    this.#index.rebuild();
  }

  async #runSweep(): Promise<number> {
    let removed = 0;
    for (;;) {
      const now = Date.now();
      const deadline = performance.now() + SLICE_MS;
      let top = this.#index.peek();
      while (top && top.expiresAt <= now) {
        this.#delete(top);
        removed++;
        if ((removed & 255) === 0 && performance.now() > deadline) break;
        top = this.#index.peek();
      }
      if (!top || top.expiresAt > now) return removed;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#sessions.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry;
    this.#delete(entry);
    return undefined;
  }

  #makeRoom(now: number): void {
    const oldest = this.#index.peek();
    if (oldest && oldest.expiresAt <= now) {
      this.#delete(oldest);
      return;
    }
    if (this.whenFull === 'reject') {
      throw new StoreFullError(`the MemoryStore holds maxSessions (${this.maxSessions}) sessions`);
    }
    if (oldest) this.#delete(oldest);
  }

  #moveExpiry(entry: Entry, expiresAt: number): void {
    if (expiresAt === entry.expiresAt) return;
    entry.expiresAt = expiresAt;
    this.#index.update(entry);
  }

  #delete(entry: Entry): void {
    this.#sessions.delete(entry.id);
    this.#index.remove(entry);
  }

  #clamp(expiresAt: number, now: number): number {
    return Math.min(expiresAt, now + this.maxAge);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}

function encode(data: Record<string, JsonValue>): string[] {
  const fields: string[] = [];
  for (const key of Object.keys(data)) fields.push(key, JSON.stringify(data[key]));
  return fields;
}

function decode(fields: string[]): Record<string, JsonValue> {
  const data: Record<string, JsonValue> = Object.create(null);
  for (let i = 0; i < fields.length; i += 2) data[fields[i]!] = JSON.parse(fields[i + 1]!);
  return data;
}

function setField(fields: string[], key: string, value: JsonValue): void {
  const json = JSON.stringify(value);
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === key) {
      fields[i + 1] = json;
      return;
    }
  }
  fields.push(key, json);
}

function unsetField(fields: string[], key: string): void {
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === key) {
      fields.splice(i, 2);
      return;
    }
  }
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new InvalidOptionError(
      `${name} must be a positive number (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** Node turns a timer delay over 2^31 - 1 ms into 1 ms, which would make a busy loop. */
const MAX_TIMER_MS = 2_147_483_647;

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || value > MAX_TIMER_MS) {
    throw new InvalidOptionError(
      `${name} must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}
