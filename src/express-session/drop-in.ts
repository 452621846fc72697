import { Cookie } from './cookie-object.js';
import { session as middleware, type SessionHandler } from './session-middleware.js';
import { Session } from './session-object.js';
import { MemoryStore, type SessionOptions } from './session-options.js';
import { Store } from './store-base.js';

/** The drop-in's function: `session(options)` with express-session's constructors attached. */
export interface SessionFunction {
  (options?: SessionOptions): SessionHandler;
  /** express-session's `Store` base class. */
  Store: typeof Store;
  /** The in-process store (session-store-js's MemoryStore behind express-session's API). */
  MemoryStore: typeof MemoryStore;
  Session: typeof Session;
  Cookie: typeof Cookie;
}

/**
 * `require('session-store-js/express-session')`: a drop-in for express-session. Same options,
 * same `req.session`, same exports; see the README for where it behaves better.
 */
export const session: SessionFunction = Object.assign(
  function session(options?: SessionOptions): SessionHandler {
    return middleware(options);
  },
  { Store, MemoryStore, Session, Cookie },
);
