/**
 * The CommonJS entry of `session-store-js/express-session`: like express-session,
 * `require('session-store-js/express-session')` is the `session` function itself, with `Store`,
 * `MemoryStore`, `Session`, `Cookie`, the interop functions and `default` attached.
 */
import * as api from './public-api.js';

const entry = Object.assign(api.session, { ...api, default: api.session });

export = entry;
