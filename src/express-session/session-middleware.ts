import type { ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { generateSessionId } from '../id.js';
import { Signer } from '../signer.js';
import { Cookie } from './cookie-object.js';
import type { LiveSession } from './load-session.js';
import { RequestSession, type Settings } from './request-session.js';
import { Session, type SessionOwner } from './session-object.js';
import {
  type DropInRequest,
  isSecureRequest,
  originalPath,
  resolveSessionOptions,
  type SessionOptions,
} from './session-options.js';

/**
 * The drop-in `session(options)`: express-session's middleware, option for option and call for
 * call — the same `req.session`, the same cookie, the same store calls at the same moments (the
 * session is written before the response ends, errors go to `next`). What differs:
 * sessions loaded from a session-store-js store carry a snapshot, so their `set` writes only the
 * keys that changed and never recreates a destroyed session; a loaded session whose cookie has
 * expired is not adopted; a store `disconnect` event does not silently drop sessions.
 */

/** The middleware `session(options)` returns. */
export type SessionHandler = (
  req: DropInRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** Signers made for `req.secret` values (cookie-parser's secret), when no `secret` option is given. */
const requestSigners = new Map<string, Signer>();

function signerFor(secret: string): Signer {
  let signer = requestSigners.get(secret);
  if (signer === undefined) {
    if (requestSigners.size > 16) requestSigners.clear();
    signer = new Signer([secret]);
    requestSigners.set(secret, signer);
  }
  return signer;
}

/** Creates the middleware. */
export function session(options?: SessionOptions): SessionHandler {
  const opts = resolveSessionOptions(options, generateSessionId);
  const { store, cookie: cookieOptions, genid, proxy } = opts;
  const settings: Settings = { ...opts, storeImplementsTouch: typeof store.touch === 'function' };

  store.generate = (request: object) => {
    const req = request as DropInRequest & SessionOwner;
    req.sessionID = genid(req);
    const sess = new Session(req) as LiveSession;
    req.session = sess;
    const resolved = typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions;
    sess.cookie = new Cookie(resolved);
    // Only `'auto'` asks whether the request is secure (Express's `req.secure` is a getter chain).
    if (resolved.secure === 'auto' || resolved.sameSite === 'auto') {
      const secure = isSecureRequest(req, proxy);
      if (resolved.secure === 'auto') sess.cookie.secure = secure;
      if (resolved.sameSite === 'auto') sess.cookie.sameSite = secure ? 'none' : 'lax';
    }
  };

  return function sessionMiddleware(req, res, next) {
    if (req.session) {
      next();
      return;
    }
    const resolved = typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions;
    if (!originalPath(req).startsWith(resolved.path || '/')) {
      next();
      return;
    }
    const signer = opts.signer ?? (req.secret ? signerFor(req.secret) : undefined);
    if (!signer) {
      next(new InvalidOptionError('secret option required for sessions'));
      return;
    }
    new RequestSession(settings, req as DropInRequest & SessionOwner, res, next, signer).start();
  };
}
