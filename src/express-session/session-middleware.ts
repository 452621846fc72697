import type { ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { generateSessionId } from '../id.js';
import { Signer } from '../signer.js';
import { Cookie, serializeCookie } from './cookie-object.js';
import { storeIdOf } from './id-map.js';
import { Session, type SessionCallback, type SessionOwner } from './session-object.js';
import {
  type DropInRequest,
  isSecureRequest,
  originalPath,
  readSessionId,
  resolveSessionOptions,
  type SessionOptions,
} from './session-options.js';
import { attachSnapshot, entriesOf, snapshotOf } from './snapshot.js';

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

type LiveSession = Session & { cookie: Cookie };

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

/**
 * A stored session whose cookie says it has expired. express-session trusts the store here; a
 * store that keeps expired sessions (or one whose clock differs) would let them live on.
 */
function isExpired(stored: object): boolean {
  const expires = (stored as { cookie?: { expires?: unknown } }).cookie?.expires;
  if (expires === null || expires === undefined) return false;
  const time = expires instanceof Date ? expires.valueOf() : Date.parse(String(expires));
  return Number.isFinite(time) && time <= Date.now();
}

/**
 * `req.session` from stored data, as express-session's `Store#createSession` builds it, plus
 * the snapshot a session-store-js store diffs against on `set` (other stores never see it).
 */
function createSession(
  req: DropInRequest & SessionOwner,
  stored: Record<string, unknown>,
): LiveSession {
  const sid = req.sessionID!;
  const snapshot = snapshotOf(entriesOf(stored, storeIdOf(sid).mapped ? sid : undefined));
  const raw = stored.cookie as Record<string, unknown> | undefined;
  if (raw === null || typeof raw !== 'object') {
    throw new TypeError('the stored session has no cookie');
  }
  const expires = raw.expires;
  const originalMaxAge = raw.originalMaxAge as number | null;
  const cookie = new Cookie(raw);
  if (typeof expires === 'string') cookie.expires = new Date(expires);
  cookie.originalMaxAge = originalMaxAge;
  const sess = new Session(req, { ...stored, cookie }) as LiveSession;
  req.session = sess;
  attachSnapshot(sess, snapshot);
  return sess;
}

/** Runs `listener` once, just before the response headers are written. */
function beforeHeaders(res: ServerResponse, listener: () => void): void {
  const writeHead = res.writeHead;
  let fired = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!fired) {
      fired = true;
      // A status given to writeHead must be in place before the listener looks at the response.
      if (typeof args[0] === 'number') this.statusCode = args[0];
      listener();
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/** Adds a `Set-Cookie` line, keeping the ones already set (express-session appends too). */
function appendSetCookie(res: ServerResponse, value: string): void {
  const previous = res.getHeader('Set-Cookie');
  const list =
    previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  res.setHeader('Set-Cookie', [...list, value]);
}

/**
 * Wraps `res.end` as express-session does: `commit(finish)` decides whether a store call must
 * complete before the response does (returns true, and calls `finish` when it has). Meanwhile
 * the headers and all but the last byte of a response with a `Content-Length` are written, so
 * the client can't see the response complete before the session is stored.
 */
function holdEnd(res: ServerResponse, commit: (finish: () => void) => boolean): void {
  const end = res.end as (...args: unknown[]) => ServerResponse;
  const write = res.write as (...args: unknown[]) => boolean;
  let ended = false;
  res.end = function (
    this: ServerResponse,
    chunk?: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    if (ended) return this;
    ended = true;
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const tail: unknown[] = [];
    let held = true;
    let rest: unknown[] | undefined;
    const finish = () => {
      held = false;
      if (rest) end.apply(res, rest);
    };
    const holding = commit(finish);
    if (!holding) return end.call(res, chunk, encoding, callback);
    if (!res.headersSent) res.writeHead(res.statusCode);
    if (chunk !== undefined && chunk !== null) {
      const length = Number(res.getHeader('Content-Length'));
      let body = chunk;
      if (!Number.isNaN(length) && length > 0) {
        const bytes = Buffer.isBuffer(body)
          ? body
          : Buffer.from(body as string, (encoding as BufferEncoding | undefined) ?? 'utf8');
        if (bytes.length > 0) {
          write.call(res, bytes.subarray(0, bytes.length - 1));
          body = bytes.subarray(bytes.length - 1);
          tail.push(body);
        } else {
          write.call(res, bytes);
        }
      } else {
        write.call(res, body, encoding);
      }
    }
    rest = [...tail, callback].filter((a) => a !== undefined);
    if (!held) end.apply(res, rest);
    return this;
  } as ServerResponse['end'];
}
