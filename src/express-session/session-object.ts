import type { Cookie } from './cookie-object.js';

/**
 * `req.session` of the drop-in: express-session's `Session`. Data keys are its enumerable own
 * properties; `id` and `req` are non-enumerable own properties; the methods live on the
 * prototype (non-enumerable), so `JSON.stringify(req.session)` is exactly the stored session.
 */

/** Callback of the session methods. */
export type SessionCallback = (error?: unknown) => void;

/** What a `Session` needs from its request. */
export interface SessionOwner {
  sessionID?: string | undefined;
  session?: Session | undefined;
  sessionStore: SessionStoreLike;
}

/** The store methods a `Session` calls (express-session's store interface). */
export interface SessionStoreLike {
  get(sid: string, callback: (error: unknown, session?: object | null) => void): void;
  set(sid: string, session: object, callback?: SessionCallback): void;
  destroy(sid: string, callback?: SessionCallback): void;
  regenerate(req: object, callback: SessionCallback): void;
  createSession(req: object, session: object): object;
}

/**
 * What the middleware of the request wants to hear from its session: a registered symbol on the
 * request (not on each session), so the ESM and CommonJS builds share it.
 */
export const SESSION_HOOKS: unique symbol = Symbol.for('session-store-js.express-session.hooks');

/** Notified by `save()` before it writes and by `reload()` once the new session is in place. */
export interface SessionHooks {
  saving(session: object): void;
  reloaded(): void;
}

function hooksOf(req: SessionOwner): SessionHooks | undefined {
  return (req as { [SESSION_HOOKS]?: SessionHooks })[SESSION_HOOKS];
}

const noop = () => {};

/** express-session's `Session`. */
export class Session {
  declare readonly id: string;
  declare readonly req: SessionOwner;
  declare cookie: Cookie;
  [key: string]: unknown;

  constructor(req: SessionOwner, data?: object | null) {
    Object.defineProperty(this, 'req', { value: req });
    Object.defineProperty(this, 'id', { value: req.sessionID });
    if (typeof data === 'object' && data !== null) {
      // A stored key that names a method or `id`/`req` would shadow it: such keys are skipped.
      for (const prop in data) {
        if (!(prop in this)) this[prop] = (data as Record<string, unknown>)[prop];
      }
    }
  }

  /** Resets the cookie's `maxAge` to `originalMaxAge`. */
  touch(): this {
    return this.resetMaxAge();
  }

  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge;
    return this;
  }

  /** Writes the session to the store now (it is also written at the end of the response). */
  save(callback?: SessionCallback): this {
    hooksOf(this.req)?.saving(this);
    this.req.sessionStore.set(this.id, this, callback ?? noop);
    return this;
  }

  /** Re-reads the session from the store into `req.session`. */
  reload(callback: SessionCallback): this {
    const req = this.req;
    const store = req.sessionStore;
    store.get(this.id, (error, stored) => {
      if (error) return callback(error);
      if (!stored) return callback(new Error('failed to load session'));
      store.createSession(req, stored);
      hooksOf(req)?.reloaded();
      callback();
    });
    return this;
  }

  /** Removes the session from the store and from `req`. */
  destroy(callback?: SessionCallback): this {
    delete this.req.session;
    this.req.sessionStore.destroy(this.id, callback ?? noop);
    return this;
  }

  /** Destroys this session and puts a new one, with a new id, on `req`. */
  regenerate(callback: SessionCallback): this {
    this.req.sessionStore.regenerate(this.req, callback);
    return this;
  }
}
