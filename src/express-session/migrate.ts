/**
 * `migrateSessions({ from, to })`: moves every session of an express-session store into a
 * session-store-js store in one run, in batches, with progress, resumable. Lazy migration
 * (`migrateFrom`) covers the users who come back before or during it.
 */
import type { ExpressStoreLike } from '../legacy-call.js';
import { isSessionStore } from '../stores/create-store.js';
import type { SessionRecord, SessionStore } from '../types.js';
import { boolean, optionalFunction, positiveInteger, refuse } from '../validate.js';
import { ExpressStoreAdapter, fromExpressStore } from './from-express-store.js';

/** Counts so far; `onProgress` receives them after each batch, the promise the final ones. */
export interface MigrationProgress {
  /** Sessions created in `to`. */
  copied: number;
  /** Sessions `to` already had (a previous run, or a lazy import), or expired meanwhile. */
  skipped: number;
  /** Sessions that can't be used: an id outside the accepted pattern, an unreadable object. */
  invalid: number;
}

/** Where sessions go: a store, or a manager, whose `maxAge` and `absoluteTimeout` then cap expiries. */
export interface MigrationTarget {
  store: SessionStore;
  maxAge: number;
  absoluteTimeout?: number | undefined;
}

/** Options of {@link migrateSessions}. */
export interface MigrateSessionsOptions {
  /**
   * The express-session store to read, or `fromExpressStore(store, { timeout, ttl, … })` to
   * choose how it is read. It must be able to list its sessions (`all()`, or `ids()`).
   */
  from: ExpressStoreLike | ExpressStoreAdapter;
  /**
   * The `SessionManager` (recommended: imported expiries are capped by its `maxAge` and
   * `absoluteTimeout`, so no migrated session is refused as too long-lived) or a bare store
   * (expiries kept as they are).
   */
  to: SessionStore | MigrationTarget;
  /**
   * Called after every batch with the counts so far. Errors it throws stop the run.
   * @default undefined (no progress reports)
   */
  onProgress?: (progress: MigrationProgress) => void;
  /**
   * How many sessions are written at once.
   * @default 100
   */
  batch?: number;
  /**
   * Remove each session from `from` once `to` holds it (also those `to` already had), so the
   * run is a move: with `migrateFrom` still pointing at `from`, a session logged out later can't
   * come back from its old copy. `false` copies only.
   * @default true
   */
  remove?: boolean;
}

/**
 * Moves (or with `remove: false`, copies) every live session of `from` into `to`, creating each
 * with insert-if-absent under its id, so cookies keep working and a session `to` already has is
 * never overwritten. Resumable: run it again after an interruption and what was done is skipped.
 * The data is converted as for `migrateFrom` (the `cookie` dropped, `createdAt` kept when known).
 */
export async function migrateSessions(options: MigrateSessionsOptions): Promise<MigrationProgress> {
  if (options === null || typeof options !== 'object') {
    refuse('migrateSessions options', 'an object such as { from, to }', options);
  }
  const source =
    options.from instanceof ExpressStoreAdapter ? options.from : fromExpressStore(options.from);
  const { store: target, cap } = resolveTarget(options.to);
  const batchSize = positiveInteger('batch', options.batch, 100, 100_000);
  const onProgress = optionalFunction<(progress: MigrationProgress) => void>(
    'onProgress',
    options.onProgress,
  );
  const remove = boolean('remove', options.remove, true);
  const progress: MigrationProgress = { copied: 0, skipped: 0, invalid: 0 };

  const move = async (id: string, record: SessionRecord) => {
    const expiresAt = Math.min(record.expiresAt, cap(record.createdAt, Date.now()));
    if (expiresAt <= Date.now()) {
      progress.skipped++;
      return;
    }
    if (await target.create(id, { ...record, expiresAt })) progress.copied++;
    else progress.skipped++;
    if (remove) await source.destroy(id);
  };

  let batch: Promise<void>[] = [];
  for await (const entry of source.entries()) {
    if (entry.record === undefined) progress.invalid++;
    else batch.push(move(entry.id, entry.record));
    if (batch.length >= batchSize) {
      await Promise.all(batch);
      batch = [];
      onProgress?.({ ...progress });
    }
  }
  await Promise.all(batch);
  onProgress?.({ ...progress });
  return progress;
}

function resolveTarget(to: SessionStore | MigrationTarget): {
  store: SessionStore;
  cap: (createdAt: number, now: number) => number;
} {
  if (isSessionStore(to)) return { store: to, cap: () => Number.POSITIVE_INFINITY };
  const target = to as MigrationTarget | null;
  if (target && isSessionStore(target.store) && typeof target.maxAge === 'number') {
    const { maxAge, absoluteTimeout } = target;
    return {
      store: target.store,
      cap: (createdAt, now) =>
        Math.min(
          now + maxAge,
          absoluteTimeout === undefined ? Infinity : createdAt + absoluteTimeout,
        ),
    };
  }
  return refuse(
    'to',
    'a SessionManager or a session store (get, create, update, touch, destroy, all, length, clear, close)',
    to,
  );
}
