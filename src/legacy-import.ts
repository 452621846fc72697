/**
 * Lazy migration from an express-session store (`migrateFrom`): a correctly signed id that the
 * primary store lacks is looked up once in the legacy store and moved — created in the primary
 * with insert-if-absent, then removed from the legacy store — so nobody is logged out by the
 * switch and a later logout can't be undone by importing the old record again.
 */
import { InvalidSessionDataError, reportBackgroundError } from './errors.js';
import {
  callLegacy,
  DEFAULT_LEGACY_TIMEOUT_MS,
  DEFAULT_LEGACY_TTL_MS,
  type ExpressStoreLike,
  isExpressStoreLike,
} from './legacy-call.js';
import { fromLegacySession } from './legacy-session.js';
import type { BackgroundErrorHandler, SessionRecord, SessionStore } from './types.js';
import { intervalMs, lifetimeMs, optionalFunction, refuse } from './validate.js';

/** `migrateFrom` with settings: the legacy store and how to talk to it. */
export interface MigrateFromOptions {
  /** The express-session store sessions are moved from (connect-redis, connect-pg-simple, …). */
  store: ExpressStoreLike;
  /**
   * Longest wait, in ms, for one call of the legacy store; past it the request fails with
   * `StoreUnavailableError` (503), never as "logged out".
   * @default 5000
   */
  timeout?: number;
  /**
   * Lifetime in ms assumed for a legacy session whose cookie has no `expires` (a browser-session
   * cookie); capped by `maxAge` like every import.
   * @default 86400000
   */
  ttl?: number;
  /**
   * Receives `InvalidSessionDataError`s for data keys dropped on import (reserved keys, values
   * JSON can't hold). It must not throw.
   * @default a process warning
   */
  onError?: BackgroundErrorHandler;
}

/** The latest expiry the manager allows a session created at `createdAt`, seen at `now`. */
export type ExpiryCap = (createdAt: number, now: number) => number;

export class LegacyImporter {
  readonly #source: ExpressStoreLike;
  readonly #timeout: number;
  readonly #ttl: number;
  readonly #onError: BackgroundErrorHandler | undefined;
  /** Imports in flight, so concurrent requests with one legacy cookie import it once. */
  readonly #inflight = new Map<string, Promise<SessionRecord | undefined>>();

  constructor(option: ExpressStoreLike | MigrateFromOptions) {
    const settings = isExpressStoreLike(option) ? { store: option } : option;
    if (settings === null || typeof settings !== 'object' || !isExpressStoreLike(settings.store)) {
      refuse(
        'migrateFrom',
        'an express-session store (with get, set and destroy methods) or { store, timeout, ttl, onError }',
        option,
      );
    }
    this.#source = settings.store;
    this.#timeout = intervalMs(
      'migrateFrom.timeout',
      settings.timeout,
      DEFAULT_LEGACY_TIMEOUT_MS,
      1,
    );
    this.#ttl = lifetimeMs('migrateFrom.ttl', settings.ttl, DEFAULT_LEGACY_TTL_MS);
    this.#onError = optionalFunction('migrateFrom.onError', settings.onError);
  }

  /**
   * Moves the legacy session `id` into `primary` and resolves its record (a copy for this
   * caller), or `undefined` when the legacy store has no live session of that id. Its expiry is
   * the legacy one, capped by `cap`. When removing it from the legacy store fails, the copy in
   * the primary is removed again and the call rejects, so a retry finds one source of truth.
   */
  import(id: string, primary: SessionStore, cap: ExpiryCap): Promise<SessionRecord | undefined> {
    let pending = this.#inflight.get(id);
    if (!pending) {
      pending = this.#move(id, primary, cap).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending.then(copy);
  }

  async #move(
    id: string,
    primary: SessionStore,
    cap: ExpiryCap,
  ): Promise<SessionRecord | undefined> {
    const stored = await callLegacy(this.#source, 'get', [id], this.#timeout);
    if (stored === undefined || stored === null) return undefined;
    const now = Date.now();
    const read = fromLegacySession(stored, now, this.#ttl);
    if (typeof read === 'string') return undefined;
    if (read.dropped.length > 0) {
      reportBackgroundError(
        this.#onError,
        new InvalidSessionDataError(
          `a migrated session had data JSON can't hold; dropped ${read.dropped.join('; ')}`,
        ),
      );
    }
    const { data, createdAt } = read.record;
    const expiresAt = Math.min(read.record.expiresAt, cap(createdAt, now));
    if (expiresAt <= now) return undefined;
    const record: SessionRecord = { data, createdAt, expiresAt };
    // Another process may have moved it first: its copy is the session then.
    const created = await primary.create(id, record);
    const result = created ? record : await primary.get(id);
    try {
      await callLegacy(this.#source, 'destroy', [id], this.#timeout);
    } catch (error) {
      if (created) await primary.destroy(id).catch(() => {});
      throw error;
    }
    return result;
  }
}

function copy(record: SessionRecord | undefined): SessionRecord | undefined {
  if (!record) return undefined;
  return { ...record, data: Object.assign(Object.create(null), record.data) };
}
