/**
 * The smallest complete session store, to copy when you write your own: a Map in this process.
 * It passes the store compliance suite and shows what every store does: check the id first,
 * treat an expired record as absent, copy data in and out, create only if absent, never bring a
 * destroyed session back, refuse every call after close(). An app imports from 'session-store-js'.
 */
import {
  InvalidSessionIdError,
  isValidSessionId,
  type SessionChanges,
  type SessionRecord,
  type SessionStore,
  StoreClosedError,
} from '../src/index.js';

export class ReferenceStore implements SessionStore {
  /** JSON of each record: a copy nobody outside can mutate. */
  readonly #sessions = new Map<string, string>();
  #closed = false;
  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#live(id);
  }
  async create(id: string, record: SessionRecord): Promise<boolean> {
    if (this.#live(id)) return false;
    this.#sessions.set(id, JSON.stringify(record));
    return true;
  }
  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    const record = this.#live(id);
    if (!record) return false; // never recreate a destroyed or expired session
    Object.assign(record.data, changes.set);
    for (const key of changes.unset ?? []) delete record.data[key];
    this.#sessions.set(id, JSON.stringify({ ...record, expiresAt }));
    return true;
  }
  async touch(id: string, expiresAt: number): Promise<boolean> {
    return this.update(id, {}, expiresAt);
  }
  async destroy(id: string): Promise<void> {
    this.#sessions.delete(this.#checked(id));
  }
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    for (const id of this.#ids()) {
      const record = this.#live(id);
      if (record) yield [id, record];
    }
  }
  async length(): Promise<number> {
    return this.#ids().length;
  }
  async clear(): Promise<void> {
    for (const id of this.#ids()) this.#sessions.delete(id);
  }
  async close(): Promise<void> {
    this.#closed = true;
    this.#sessions.clear();
  }
  #ids(): string[] {
    if (this.#closed) throw new StoreClosedError();
    return [...this.#sessions.keys()];
  }
  #checked(id: unknown): string {
    if (!isValidSessionId(id)) throw new InvalidSessionIdError();
    if (this.#closed) throw new StoreClosedError();
    return id;
  }
  /** A fresh copy of the live record of `id`, or `undefined` (an expired one is removed). */
  #live(id: string): SessionRecord | undefined {
    const json = this.#sessions.get(this.#checked(id));
    if (json === undefined) return undefined;
    const { data, createdAt, expiresAt } = JSON.parse(json) as SessionRecord;
    if (expiresAt <= Date.now()) return void this.#sessions.delete(id);
    return { data: Object.assign(Object.create(null), data), createdAt, expiresAt };
  }
}
