/**
 * `session-store-js/express-session`: express-session interop. The default export is a drop-in
 * for express-session's `session(options)`; `toExpressStore(store)` puts a session-store-js
 * store under the real express-session; `fromExpressStore(store)` puts an express-session store
 * under session-store-js; `migrateSessions({ from, to })` moves a whole express-session store
 * over.
 *
 * ```js
 * import session from 'session-store-js/express-session';
 * app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false }));
 * ```
 */
import { session } from './drop-in.js';

export * from './public-api.js';
export default session;
