/**
 * Everything `session-store-js/express-session` exports by name; shared by its ESM entry and
 * its CommonJS entry (where the names hang off the `session` function).
 */
export type { ExpressStoreLike, LegacyCallback } from '../legacy-call.js';
export type { MigrateFromOptions } from '../legacy-import.js';
export type { LegacyCookieOptions } from '../legacy-session.js';
export { Cookie, type CookieData, type CookieJson } from './cookie-object.js';
export { type SessionFunction, session } from './drop-in.js';
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
export type { SessionHandler } from './session-middleware.js';
export { Session, type SessionCallback } from './session-object.js';
export {
  type DropInRequest,
  type DropInStore,
  MemoryStore,
  type SessionOptions,
} from './session-options.js';
export { Store } from './store-base.js';
export { toExpressStore } from './to-express-store.js';
export type {
  ExpressCookieJson,
  ExpressSessionData,
  ExpressSessionStore,
  StoreCallback,
  ToExpressStoreOptions,
} from './to-express-store-options.js';
