/**
 * `session-store-js/express-session`: express-session interop. `toExpressStore(store)` puts a
 * session-store-js store under express-session; `fromExpressStore(store)` puts an
 * express-session store under session-store-js; `migrateSessions({ from, to })` moves a whole
 * express-session store over.
 */
export type { ExpressStoreLike, LegacyCallback } from '../legacy-call.js';
export type { MigrateFromOptions } from '../legacy-import.js';
export type { LegacyCookieOptions } from '../legacy-session.js';
export { Cookie, type CookieData, type CookieJson } from './cookie-object.js';
export {
  EXPRESS_STORE_CAPABILITIES,
  ExpressStoreAdapter,
  type ExpressStoreEntry,
  type FromExpressStoreOptions,
  fromExpressStore,
} from './from-express-store.js';
export {
  type MigrateSessionsOptions,
  type MigrationProgress,
  type MigrationTarget,
  migrateSessions,
} from './migrate.js';
export { Session, type SessionCallback } from './session-object.js';
export { Store } from './store-base.js';
export {
  type ExpressCookieJson,
  type ExpressSessionData,
  type ExpressSessionStore,
  type StoreCallback,
  type ToExpressStoreOptions,
  toExpressStore,
} from './to-express-store.js';
