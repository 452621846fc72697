import { EventEmitter } from 'node:events';
import { Cookie } from './cookie-object.js';
import { Session, type SessionCallback, type SessionOwner } from './session-object.js';

/**
 * express-session's `Store` base class, for when express-session is not installed (and as the
 * drop-in's `session.Store`): an `EventEmitter` that gives every store `regenerate`, `load` and
 * `createSession`. The middleware assigns `generate` to each store it is given.
 */
export class Store extends EventEmitter {
  /** Assigned by the middleware: puts a new session (new id, fresh cookie) on `req`. */
  declare generate?: (req: object) => void;

  /** Destroys the request's session, then generates a new one on `req`. */
  regenerate(req: object, callback: SessionCallback): void {
    const owner = req as SessionOwner;
    this.#callStore('destroy', owner.sessionID, (error?: unknown) => {
      this.generate?.(req);
      callback(error);
    });
  }

  /**
   * Loads session `sid` as a `Session` (not attached to any request); no session → `undefined`.
   * The session parameter is `any` so that stores built on this class also satisfy
   * `@types/express-session`'s `Store` type, whose `Session` differs in detail.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see above
  load(sid: string, callback: (error: unknown, session?: any) => void): void {
    this.#callStore('get', sid, (error: unknown, stored?: object | null) => {
      if (error) return callback(error);
      if (!stored) return callback(undefined);
      const req = { sessionID: sid, sessionStore: this };
      callback(null, this.createSession(req, stored));
    });
  }

  /**
   * Turns stored session data into `req.session`: its `cookie` becomes a `Cookie` (an ISO
   * `expires` a `Date`, `originalMaxAge` kept). Stored data without a `cookie` is a `TypeError`,
   * as in express-session. Returned as `any` for the same reason as `load`.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see `load`
  createSession(req: object, stored: object): any {
    const sess = stored as { cookie: Record<string, unknown> & { expires?: unknown } };
    const expires = sess.cookie.expires;
    const originalMaxAge = sess.cookie.originalMaxAge as number | null;
    const cookie = new Cookie(sess.cookie);
    if (typeof expires === 'string') cookie.expires = new Date(expires);
    cookie.originalMaxAge = originalMaxAge;
    (sess as { cookie: unknown }).cookie = cookie;
    const owner = req as SessionOwner;
    owner.session = new Session(owner, sess);
    return owner.session;
  }

  /** Calls one of the subclass's own store methods (`get`, `destroy`). */
  #callStore(method: 'get' | 'destroy', sid: string | undefined, callback: Function): void {
    (this as unknown as Record<string, (sid: unknown, cb: Function) => void>)[method]!(
      sid,
      callback,
    );
  }
}
