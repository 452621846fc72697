import type { LegacyCookieOptions } from '../legacy-session.js';
import type { BackgroundErrorHandler, SessionRecord, StoreCapabilities } from '../types.js';

/**
 * The public shapes of `fromExpressStore`: its options, one entry of a listing, and the
 * guarantees it states for the manager.
 */

/** Options of {@link fromExpressStore}. */
export interface FromExpressStoreOptions {
  /**
   * Longest wait, in ms, for one call of the wrapped store (its callback or promise); past it the
   * call fails with `StoreUnavailableError`, so a store that never calls back can't hang a
   * request.
   * @default 5000
   */
  timeout?: number;
  /**
   * Lifetime in ms given to a stored session whose cookie has no `expires` (a browser-session
   * cookie), counted from each read. Keep it at most the manager's `maxAge`.
   * @default 86400000 (one day, as connect-redis and connect-pg-simple assume)
   */
  ttl?: number;
  /**
   * Cookie attributes stored with the sessions this adapter creates, which is what an
   * express-session app sharing the store sends for them. Sessions that already have a cookie
   * keep theirs.
   * @default { path: '/', httpOnly: true }
   */
  cookie?: LegacyCookieOptions;
  /**
   * Receives `InvalidSessionDataError`s for data keys of stored sessions that were dropped on
   * read (reserved keys, values JSON can't hold). It must not throw.
   * @default a process warning
   */
  onError?: BackgroundErrorHandler;
}

/** One stored session as a listing sees it: `record` is `undefined` when it can't be used. */
export interface ExpressStoreEntry {
  id: string;
  record: SessionRecord | undefined;
}

/** What an express-session store gives, stated for the manager and the application. */
export const EXPRESS_STORE_CAPABILITIES: StoreCapabilities = Object.freeze({
  atomicCreate: 'process',
  keyLevelUpdate: 'process',
  noResurrection: 'process',
  streamingAll: false,
  userIndex: false,
});
