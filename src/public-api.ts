/** Everything the package exports by name; shared by the ESM and the CommonJS entry. */

export type { CookieOptions } from './cookie.js';
export {
  HeadersSentError,
  InvalidOptionError,
  InvalidSessionDataError,
  InvalidSessionIdError,
  NoSessionMiddlewareError,
  NotSupportedError,
  SessionCollisionError,
  SessionDestroyedError,
  SessionError,
  type SessionErrorCode,
  SessionTooLargeError,
  StoreClosedError,
  StoreFullError,
  StoreUnavailableError,
  StoreWriteError,
} from './errors.js';
export { generateSessionId, isValidSessionId } from './id.js';
export type {
  DestroyUserSessionsOptions,
  ListUserSessionsOptions,
  RegenerateOptions,
} from './manager.js';
export { SessionManager } from './manager.js';
export type { SessionEvent, SessionMiddleware } from './middleware.js';
export type { SessionManagerOptions } from './options.js';
export type { SessionRequest } from './request-state.js';
export type { Secret } from './signer.js';
export { FileStore, type FileStoreOptions } from './stores/file/file-store.js';
export { MemoryStore, type MemoryStoreOptions } from './stores/memory/memory-store.js';
export {
  type PgPoolClientLike,
  type PgPoolLike,
  PostgresStore,
  type PostgresStoreOptions,
} from './stores/postgres/postgres-store.js';
export { RedisStore, type RedisStoreOptions } from './stores/redis/redis-store.js';
export type {
  BackgroundErrorHandler,
  CreateForUserResult,
  Guarantee,
  JsonPrimitive,
  JsonValue,
  SessionChanges,
  SessionData,
  SessionRecord,
  SessionStore,
  StoreCapabilities,
  UserBinding,
  UserIndexStore,
  UserSessionLimit,
} from './types.js';
export { USER_BINDING_KEY } from './types.js';
export type { UserSessionInfo } from './users.js';
