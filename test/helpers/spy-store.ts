/**
 * Store doubles for HTTP tests: `SpyStore` counts every call (so "no store read" is asserted,
 * not assumed) and can be told to fail; `LaxStore` trusts its caller and never checks expiry,
 * so the manager must.
 */
import { MemoryStore, type SessionRecord, type SessionStore } from '../../src/index.js';
import type { SessionChanges } from '../../src/types.js';

export type Method = 'get' | 'create' | 'update' | 'touch' | 'destroy';

/** A store that counts calls, records ids and can be told to fail; delegates to `inner`. */
export class SpyStore implements SessionStore {
  readonly inner: SessionStore;
  readonly calls: Record<Method, number> = { get: 0, create: 0, update: 0, touch: 0, destroy: 0 };
  readonly failures: Partial<Record<Method, Error>> = {};
  /** Every id the store was given (errors must never carry one). */
  readonly ids = new Set<string>();
  /** How many of the next `create` calls report a collision (an id already taken). */
  collisions = 0;

  constructor(inner: SessionStore = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 })) {
    this.inner = inner;
  }

  reset(): void {
    for (const key of Object.keys(this.calls) as Method[]) this.calls[key] = 0;
    for (const key of Object.keys(this.failures) as Method[]) delete this.failures[key];
    this.collisions = 0;
  }

  #enter(method: Method, id: string): void {
    this.calls[method]++;
    if (typeof id === 'string') this.ids.add(id);
    const failure = this.failures[method];
    if (failure) throw failure;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#enter('get', id);
    return this.inner.get(id);
  }
  async create(id: string, record: SessionRecord): Promise<boolean> {
    this.#enter('create', id);
    if (this.collisions > 0) {
      this.collisions--;
      return false;
    }
    return this.inner.create(id, record);
  }
  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    this.#enter('update', id);
    return this.inner.update(id, changes, expiresAt);
  }
  async touch(id: string, expiresAt: number): Promise<boolean> {
    this.#enter('touch', id);
    return this.inner.touch(id, expiresAt);
  }
  async destroy(id: string): Promise<void> {
    this.#enter('destroy', id);
    return this.inner.destroy(id);
  }
  all(): AsyncIterable<[string, SessionRecord]> {
    return this.inner.all();
  }
  length(): Promise<number> {
    return this.inner.length();
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A store that keeps whatever it is given and never checks expiry itself — the shape of a store
 * that trusts its caller. The manager must enforce expiry on what it returns.
 */
export class LaxStore implements SessionStore {
  readonly map = new Map<string, SessionRecord>();
  #copy(record: SessionRecord): SessionRecord {
    const data = Object.assign(Object.create(null), JSON.parse(JSON.stringify(record.data)));
    return { data, createdAt: record.createdAt, expiresAt: record.expiresAt };
  }
  async get(id: string) {
    const record = this.map.get(id);
    return record && this.#copy(record);
  }
  async create(id: string, record: SessionRecord) {
    if (this.map.has(id)) return false;
    this.map.set(id, this.#copy(record));
    return true;
  }
  async update(id: string, changes: SessionChanges, expiresAt: number) {
    const record = this.map.get(id);
    if (!record) return false;
    Object.assign(record.data, changes.set ?? {});
    for (const key of changes.unset ?? []) delete record.data[key];
    record.expiresAt = expiresAt;
    return true;
  }
  async touch(id: string, expiresAt: number) {
    const record = this.map.get(id);
    if (!record) return false;
    record.expiresAt = expiresAt;
    return true;
  }
  async destroy(id: string) {
    this.map.delete(id);
  }
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    for (const [id, record] of this.map) yield [id, this.#copy(record)];
  }
  async length() {
    return this.map.size;
  }
  async clear() {
    this.map.clear();
  }
  async close() {}
}
