import { InvalidOptionError } from '../errors.js';
import type { SessionStore } from '../types.js';
import type { Store } from './store-base.js';

/**
 * The public shapes of `toExpressStore`: its options (with their defaults and checks),
 * express-session's callback and session JSON as its stores exchange them, and the store
 * interface the adapter implements.
 */

/** Options of {@link toExpressStore}. */
export interface ToExpressStoreOptions {
  /**
   * Lifetime in ms given to a session whose cookie has no `expires` (a browser-session cookie:
   * express-session's default), and the `originalMaxAge` of a session written by the manager.
   * The store's own bound (`maxAge`, `ttl`) still applies on top of it.
   * @default 86_400_000 (one day)
   */
  maxAge?: number;
  /**
   * What a `set` or `touch` does when the session was destroyed or expired meanwhile (a logout
   * in another request). Nothing is written either way. `'ignore'` calls back without an error,
   * so the request in flight completes normally; `'error'` calls back a
   * `SessionDestroyedError` (express-session then passes it to `next`).
   * @default 'ignore'
   */
  onLostSession?: 'ignore' | 'error';
}

/** A callback of express-session's store interface. */
export type StoreCallback<T = void> = (error?: unknown, value?: T) => void;

/** express-session's cookie as stores hand it back (JSON: `expires` an ISO string or `null`). */
export interface ExpressCookieJson {
  originalMaxAge: number | null;
  /**
   * An ISO date, or `null` for a browser-session cookie. Typed `any` because
   * `@types/express-session` calls it a `Date` while every store returns the JSON string.
   */
  // biome-ignore lint/suspicious/noExplicitAny: see above
  expires?: any;
  path?: string;
  httpOnly?: boolean;
  secure?: boolean;
  domain?: string;
  sameSite?: boolean | 'lax' | 'strict' | 'none';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** Session data as express-session stores it: data keys plus `cookie`. */
export type ExpressSessionData = { [key: string]: unknown; cookie: ExpressCookieJson };

/** What {@link toExpressStore} returns: an express-session store over `store`. */
export interface ExpressSessionStore<S extends SessionStore = SessionStore> extends Store {
  /** The session-store-js store it writes to. */
  readonly store: S;
  /** Calls back the session, or `null` when it is missing or expired. */
  get(sid: string, callback: (error: unknown, session?: ExpressSessionData | null) => void): void;
  /**
   * Writes the session: for a session loaded through this store, only the keys that changed;
   * for a new one, insert-if-absent.
   */
  set(sid: string, session: object, callback?: StoreCallback): void;
  /** Moves the expiry to the session cookie's; never creates a session. */
  touch(sid: string, session: object, callback?: StoreCallback): void;
  destroy(sid: string, callback?: StoreCallback): void;
  /** Every live session, as an object keyed by the ids express-session knows. */
  all(callback: (error: unknown, sessions?: Record<string, ExpressSessionData>) => void): void;
  length(callback: (error: unknown, length?: number) => void): void;
  clear(callback?: StoreCallback): void;
}

const DEFAULT_MAX_AGE = 86_400_000;

/** `options` checked, with their defaults. */
export function resolveToExpressStoreOptions(options: ToExpressStoreOptions = {}): {
  maxAge: number;
  strictLoss: boolean;
} {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(`options must be an object (got ${String(options)})`);
  }
  const { maxAge = DEFAULT_MAX_AGE, onLostSession = 'ignore' } = options;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) {
    throw new InvalidOptionError(
      `maxAge must be a positive number of milliseconds (got ${String(maxAge)})`,
    );
  }
  if (onLostSession !== 'ignore' && onLostSession !== 'error') {
    throw new InvalidOptionError(
      `onLostSession must be 'ignore' or 'error' (got ${JSON.stringify(onLostSession)})`,
    );
  }
  return { maxAge, strictLoss: onLostSession === 'error' };
}
