/**
 * session-store-js — server-side sessions for Express. The ESM entry: the named exports and
 * `SessionManager` as the default export.
 *
 * ```js
 * import SessionManager from 'session-store-js';
 * const sessions = new SessionManager({ secret: process.env.SESSION_SECRET });
 * app.use(sessions.middleware());
 * ```
 */
import { SessionManager } from './public-api.js';

export * from './public-api.js';
export default SessionManager;
