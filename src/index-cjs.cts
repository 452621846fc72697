/**
 * The CommonJS entry: `require('session-store-js')` is the SessionManager class itself, with the
 * stores, the errors, `SessionManager` and `default` attached, so
 * `const SessionManager = require('session-store-js')`,
 * `const { SessionManager, MemoryStore } = require('session-store-js')` and
 * `require('session-store-js').default` all give the same class.
 */
import * as api from './public-api.js';

const entry = Object.assign(api.SessionManager, { ...api, default: api.SessionManager });

export = entry;
