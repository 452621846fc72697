import { IncomingMessage, ServerResponse } from 'node:http';
import { prepareForProperties } from '../own-properties.js';
import type { Signer } from '../signer.js';
import { serializeCookie } from './cookie-object.js';
import { type LiveSession, loadSession } from './load-session.js';
import { appendSetCookie, beforeHeaders, holdEnd } from './response-hooks.js';
import {
  SESSION_HOOKS,
  Session,
  type SessionCallback,
  type SessionHooks,
  type SessionOwner,
} from './session-object.js';
import {
  type DropInRequest,
  isSecureRequest,
  type ResolvedSessionOptions,
  readSessionId,
} from './session-options.js';

/**
 * One request under the drop-in: express-session's bookkeeping of what was loaded, saved and
 * sent, in one object per request (instead of a closure per decision); `req.session.save()`
 * reports to it through a hook on the request instead of a wrapper method on every session.
 */

/**
 * The session as stored, without its cookie: what "modified" is measured on. Equal exactly when
 * express-session's `JSON.stringify` of the session without its cookie is: each key with a JSON
 * value contributes its length-prefixed name and that JSON (which never holds a raw newline).
 */
function fingerprint(sess: object): string {
  const source = sess as Record<string, unknown>;
  let out = '';
  for (const key of Object.keys(source)) {
    if (key === 'cookie') continue;
    const text = JSON.stringify(source[key]);
    if (text !== undefined) out += `${key.length}:${key}=${text}\n`;
  }
  return out;
}

/** What every request of one middleware shares. */
export interface Settings extends ResolvedSessionOptions {
  storeImplementsTouch: boolean;
}

/** One request's session: express-session's bookkeeping of what was loaded, saved and sent. */
export class RequestSession implements SessionHooks {
  readonly #settings: Settings;
  readonly #req: DropInRequest & SessionOwner;
  readonly #res: ServerResponse;
  readonly #next: (error?: unknown) => void;
  readonly #signer: Signer;
  /** The id the request's cookie carried. */
  readonly #cookieId: string | undefined;
  /** That cookie's signed value, when the first secret signed it (then it is re-sent as is). */
  readonly #cookieValue: string | undefined;
  #originalId: string | undefined;
  #originalHash: string | undefined;
  #savedHash: string | undefined;
  #touched = false;

  constructor(
    settings: Settings,
    req: DropInRequest & SessionOwner,
    res: ServerResponse,
    next: (error?: unknown) => void,
    signer: Signer,
  ) {
    this.#settings = settings;
    this.#req = req;
    this.#res = res;
    this.#next = next;
    this.#signer = signer;
    prepareForProperties(req, IncomingMessage.prototype);
    req.sessionStore = settings.store as SessionOwner['sessionStore'];
    const cookie = readSessionId(req, settings.name, signer);
    this.#cookieId = cookie?.id;
    this.#cookieValue = cookie?.signed;
    req.sessionID = this.#cookieId;
    (req as { [SESSION_HOOKS]?: SessionHooks })[SESSION_HOOKS] = this;
  }

  start(): void {
    const res = this.#res;
    prepareForProperties(res, ServerResponse.prototype);
    beforeHeaders(res, () => this.#setCookie());
    holdEnd(res, (finish) => this.#commit(finish));
    const req = this.#req;
    if (!req.sessionID) {
      this.#generate();
      this.#next();
      return;
    }
    this.#settings.store.get(req.sessionID, (error, stored) => this.#loaded(error, stored));
  }

  /** `req.session.save()` was called: what it writes counts as saved. */
  saving(sess: object): void {
    this.#savedHash = fingerprint(sess);
  }

  /** `req.session.reload()` put a new session on the request. */
  reloaded(): void {
    const now = this.#current();
    // A store whose `createSession` builds another `Session` class (express-session's own) gets
    // the hooks by wrapping; one wrapped already has its own `save`.
    if (now && !(now instanceof Session) && !Object.hasOwn(now, 'save')) this.#wrap(now);
  }

  #loaded(error: unknown, stored: object | null | undefined): void {
    if (error && (error as { code?: unknown }).code !== 'ENOENT') {
      this.#next(error);
      return;
    }
    try {
      if (error || !stored || !this.#inflate(stored as Record<string, unknown>)) this.#generate();
    } catch (e) {
      this.#next(e);
      return;
    }
    this.#next();
  }

  #generate(): void {
    this.#settings.store.generate!(this.#req);
    this.#originalId = this.#req.sessionID;
    this.#originalHash = fingerprint(this.#current()!);
  }

  /** Puts the stored session on the request; false when it has expired. */
  #inflate(stored: Record<string, unknown>): boolean {
    const sess = loadSession(this.#req, stored);
    if (sess === undefined) return false;
    this.#originalId = this.#req.sessionID;
    this.#originalHash = fingerprint(sess);
    if (!this.#settings.resave) this.#savedHash = this.#originalHash;
    return true;
  }

  #current(): LiveSession | undefined {
    return this.#req.session as LiveSession | undefined;
  }

  #isModified(sess: LiveSession): boolean {
    return this.#originalId !== sess.id || this.#originalHash !== fingerprint(sess);
  }

  #isSaved(sess: LiveSession): boolean {
    return this.#originalId === sess.id && this.#savedHash === fingerprint(sess);
  }

  #shouldDestroy(): boolean {
    return Boolean(this.#req.sessionID) && this.#settings.unsetDestroy && this.#req.session == null;
  }

  #shouldSave(): boolean {
    const id = this.#req.sessionID;
    if (typeof id !== 'string') return false;
    const sess = this.#current()!;
    return !this.#settings.saveUninitialized && !this.#savedHash && this.#cookieId !== id
      ? this.#isModified(sess)
      : !this.#isSaved(sess);
  }

  #shouldSetCookie(): boolean {
    const id = this.#req.sessionID;
    if (typeof id !== 'string') return false;
    const sess = this.#current()!;
    return this.#cookieId !== id
      ? this.#settings.saveUninitialized || this.#isModified(sess)
      : this.#settings.rolling || (sess.cookie.expires != null && this.#isModified(sess));
  }

  #fail(error: unknown): void {
    setImmediate(this.#next, error);
  }

  #touchOnce(sess: LiveSession): void {
    if (!this.#touched) {
      sess.touch();
      this.#touched = true;
    }
  }

  /** Just before the headers: the `Set-Cookie`, when express-session would send one. */
  #setCookie(): void {
    const sess = this.#current();
    if (!sess || !this.#shouldSetCookie()) return;
    const req = this.#req;
    if (sess.cookie.secure && !isSecureRequest(req, this.#settings.proxy)) return;
    this.#touchOnce(sess);
    const id = req.sessionID!;
    try {
      const signed =
        id === this.#cookieId && this.#cookieValue !== undefined
          ? this.#cookieValue
          : this.#signer.sign(id);
      appendSetCookie(this.#res, serializeCookie(this.#settings.name, signed, sess.cookie.data));
    } catch (error) {
      this.#fail(error);
    }
  }

  /** At `res.end`: the store call the response waits for, if any (then `finish` ends it). */
  #commit(finish: () => void): boolean {
    const { store } = this.#settings;
    const done = (error?: unknown) => {
      if (error) this.#fail(error);
      finish();
    };
    if (this.#shouldDestroy()) {
      store.destroy(this.#req.sessionID!, done);
      return true;
    }
    const sess = this.#current();
    if (!sess) return false;
    this.#touchOnce(sess);
    if (this.#shouldSave()) {
      sess.save(done);
      return true;
    }
    const id = this.#req.sessionID;
    if (this.#settings.storeImplementsTouch && typeof id === 'string' && id === this.#cookieId) {
      store.touch!(id, sess, done);
      return true;
    }
    return false;
  }

  /** The hooks, as wrapper methods, on a session of another class (express-session's own). */
  #wrap(sess: LiveSession): void {
    const reload = sess.reload;
    const save = sess.save;
    const hooks = this;
    Object.defineProperty(sess, 'reload', {
      configurable: true,
      enumerable: false,
      writable: true,
      value(this: LiveSession, callback: SessionCallback) {
        reload.call(this, (error?: unknown) => {
          hooks.reloaded();
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
        hooks.saving(this);
        save.call(this, callback);
        return this;
      },
    });
  }
}
