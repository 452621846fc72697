/**
 * `session-store-js/express-session`: express-session interop. `toExpressStore(store)` puts a
 * session-store-js store under express-session.
 */
export { Cookie, type CookieData, type CookieJson } from './cookie-object.js';
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
