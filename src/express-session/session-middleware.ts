import type { ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { generateSessionId } from '../id.js';
import { Signer } from '../signer.js';
import { Cookie, serializeCookie } from './cookie-object.js';
import { createSession, isExpired, type LiveSession } from './load-session.js';
import { appendSetCookie, beforeHeaders, holdEnd } from './response-hooks.js';
import { Session, type SessionCallback, type SessionOwner } from './session-object.js';
import {
  type DropInRequest,
  isSecureRequest,
  originalPath,
  readSessionId,
  resolveSessionOptions,
  type SessionOptions,
} from './session-options.js';

/**
 * The drop-in `session(options)`: express-session's middleware, option for option and call for
 * call — the same `req.session`, the same cookie, the same store calls at the same moments (the
 * session is written just before the response's last byte, errors go to `next`). What differs:
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

/** The session as stored, without its cookie: what "modified" is measured on. */
function fingerprint(sess: object): string {
  return JSON.stringify(sess, function (this: unknown, key, value) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

/** Creates the middleware. */
export function session(options?: SessionOptions): SessionHandler {
  const opts = resolveSessionOptions(options, generateSessionId);
  const { name, store, cookie: cookieOptions, genid, proxy } = opts;
  const storeImplementsTouch = typeof store.touch === 'function';

  store.generate = (request: object) => {
    const req = request as DropInRequest & SessionOwner;
    req.sessionID = genid(req);
    const sess = new Session(req) as LiveSession;
    req.session = sess;
    const resolved = typeof cookieOptions === 'function' ? cookieOptions(req) : cookieOptions;
    sess.cookie = new Cookie(resolved);
    const secure = isSecureRequest(req, proxy);
    if (resolved.secure === 'auto') sess.cookie.secure = secure;
    if (resolved.sameSite === 'auto') sess.cookie.sameSite = secure ? 'none' : 'lax';
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
    const owner = req as DropInRequest & SessionOwner;
    owner.sessionStore = store as SessionOwner['sessionStore'];
    const cookieId = readSessionId(req, name, signer);
    req.sessionID = cookieId;
    let originalId: string | undefined;
    let originalHash: string | undefined;
    let savedHash: string | undefined;
    let touched = false;

    const current = () => owner.session as LiveSession | undefined;
    const isModified = (sess: LiveSession) =>
      originalId !== sess.id || originalHash !== fingerprint(sess);
    const isSaved = (sess: LiveSession) =>
      originalId === sess.id && savedHash === fingerprint(sess);
    const shouldDestroy = () =>
      Boolean(req.sessionID) && opts.unsetDestroy && owner.session == null;
    const shouldSave = () => {
      if (typeof req.sessionID !== 'string') return false;
      const sess = current()!;
      return !opts.saveUninitialized && !savedHash && cookieId !== req.sessionID
        ? isModified(sess)
        : !isSaved(sess);
    };
    const shouldTouch = () =>
      typeof req.sessionID === 'string' && cookieId === req.sessionID && !shouldSave();
    const shouldSetCookie = () => {
      if (typeof req.sessionID !== 'string') return false;
      const sess = current()!;
      return cookieId !== req.sessionID
        ? opts.saveUninitialized || isModified(sess)
        : opts.rolling || (sess.cookie.expires != null && isModified(sess));
    };
    const fail = (error: unknown) => setImmediate(next, error);

    beforeHeaders(res, () => {
      const sess = current();
      if (!sess || !shouldSetCookie()) return;
      if (sess.cookie.secure && !isSecureRequest(req, proxy)) return;
      if (!touched) {
        sess.touch();
        touched = true;
      }
      try {
        const value = serializeCookie(name, signer.sign(req.sessionID!), sess.cookie.data);
        appendSetCookie(res, value);
      } catch (error) {
        fail(error);
      }
    });

    holdEnd(res, (finish) => {
      if (shouldDestroy()) {
        store.destroy(req.sessionID!, (error) => {
          if (error) fail(error);
          finish();
        });
        return true;
      }
      const sess = current();
      if (!sess) return false;
      if (!touched) {
        sess.touch();
        touched = true;
      }
      if (shouldSave()) {
        sess.save((error) => {
          if (error) fail(error);
          finish();
        });
        return true;
      }
      if (storeImplementsTouch && shouldTouch()) {
        store.touch!(req.sessionID!, sess, (error) => {
          if (error) fail(error);
          finish();
        });
        return true;
      }
      return false;
    });

    const wrap = (sess: LiveSession) => {
      const reload = sess.reload;
      const save = sess.save;
      Object.defineProperty(sess, 'reload', {
        configurable: true,
        enumerable: false,
        writable: true,
        value(this: LiveSession, callback: SessionCallback) {
          reload.call(this, (error?: unknown) => {
            const now = current();
            if (now && now !== this) wrap(now);
            callback(error);
          });
          return this;
        },
      });
      Object.defineProperty(sess, 'save', {
        configurable: true,
        enumerable: false,
        writable: true,
        value(this: LiveSession, callback?: SessionCallback) {
          savedHash = fingerprint(this);
          save.call(this, callback);
          return this;
        },
      });
    };

    const generate = () => {
      store.generate!(req);
      originalId = req.sessionID;
      originalHash = fingerprint(current()!);
      wrap(current()!);
    };

    const inflate = (stored: Record<string, unknown>) => {
      const sess = createSession(owner, stored);
      originalId = req.sessionID;
      originalHash = fingerprint(sess);
      if (!opts.resave) savedHash = originalHash;
      wrap(sess);
    };

    if (!req.sessionID) {
      generate();
      next();
      return;
    }
    store.get(req.sessionID, (error, stored) => {
      if (error && (error as { code?: unknown }).code !== 'ENOENT') {
        next(error);
        return;
      }
      try {
        if (error || !stored || isExpired(stored)) generate();
        else inflate(stored as Record<string, unknown>);
      } catch (e) {
        next(e);
        return;
      }
      next();
    });
  };
}
