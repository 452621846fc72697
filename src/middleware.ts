import type { ServerResponse } from 'node:http';
import { findCookieValues } from './cookie.js';
import { isValidSessionId } from './id.js';
import type { RequestState, SessionRequest, StateSlot } from './request-state.js';
import type { Signer } from './signer.js';

/** Express-compatible middleware: `(req, res, next)`, no dependency on Express itself. */
export type SessionMiddleware = (
  req: SessionRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** What the middleware needs from its manager. */
export interface MiddlewareContext {
  slot: StateSlot;
  signer: Signer;
  cookieName: string;
  /**
   * Loads the live session of a correctly signed cookie into `state`; resolves `false` (and
   * adopts nothing) when there is none. `renewCookie` when an older secret signed it.
   */
  load(state: RequestState, id: string, renewCookie: boolean): Promise<boolean>;
  /** A signed cookie led to no live session: tell the browser to drop it. */
  reject(state: RequestState): void;
  /** Receives detection events, when the application asked for them. */
  onEvent: ((event: SessionEvent) => void) | undefined;
}

/**
 * What the middleware saw that an application may want to count or alert on (OWASP: detect
 * guessing and tampering). Events carry no id and no cookie value, so they are safe to log.
 * - `invalid-signature`: a cookie of our name that is not `s:<id>.<mac>` with a valid MAC.
 * - `unknown-session`: a correctly signed id with no live session (destroyed, expired, or
 *   never issued by this store): strict mode refuses it.
 * - `duplicate-cookie`: several cookies of our name in one request (cookie tossing).
 * - `renewal-failed`: the store refused a rolling renewal (full disk, Redis at `maxmemory`…);
 *   `code` is the error's code. The request went on with the session as loaded.
 * - `user-sessions-revoked`: `destroyUserSessions` ended `count` sessions of one user.
 * - `user-session-evicted`: a login went past `maxSessionsPerUser` and `count` older sessions
 *   of that user were destroyed.
 */
export interface SessionEvent {
  type:
    | 'invalid-signature'
    | 'unknown-session'
    | 'duplicate-cookie'
    | 'renewal-failed'
    | 'user-sessions-revoked'
    | 'user-session-evicted';
  /** With `renewal-failed`: the code of the store's error, such as `STORE_WRITE_FAILED`. */
  code?: string;
  /** How many sessions, for the per-user events. */
  count?: number;
}

const INVALID_SIGNATURE: SessionEvent = Object.freeze({ type: 'invalid-signature' });
const UNKNOWN_SESSION: SessionEvent = Object.freeze({ type: 'unknown-session' });
const DUPLICATE_COOKIE: SessionEvent = Object.freeze({ type: 'duplicate-cookie' });

/**
 * How many cookies of our name are considered. Duplicates arrive when another path or a parent
 * domain sets the same name; they are tried in header order and the first correctly signed one
 * with a live session wins, so a stale cookie on a longer path can't hide the live one.
 */
const MAX_CANDIDATES = 8;

/**
 * Cookie in, `req.sessionID` out. A request without a correctly signed cookie costs no store
 * read; with one, the session is loaded (one store read) before `next()`, so a store failure
 * reaches Express's error handler (status 503) instead of looking like "logged out".
 */
export function createMiddleware(context: MiddlewareContext): SessionMiddleware {
  const { slot, signer, cookieName, load, reject, onEvent } = context;
  const emit = (event: SessionEvent) => {
    try {
      onEvent?.(event);
    } catch {
      // An observer must never break a request.
    }
  };

  /**
   * Tries `values[i…]` in order and calls `next` once one loads or none is left. Callbacks on
   * `load`'s promise, not an `async` loop: one cookie (nearly every request) costs one hop.
   */
  function loadFrom(
    state: RequestState,
    values: string[],
    i: number,
    signed: boolean,
    next: (error?: unknown) => void,
  ): void {
    for (; i < values.length; i++) {
      const value = values[i]!;
      const verified = signer.unsign(value);
      if (!verified || !isValidSessionId(verified.id)) {
        if (onEvent) emit(INVALID_SIGNATURE);
        continue;
      }
      if (!verified.renew) {
        state.signedId = verified.id;
        state.signedValue = value;
      }
      const rest = i + 1;
      load(state, verified.id, verified.renew)
        .then((live) => {
          if (live) {
            next();
            return;
          }
          if (onEvent) emit(UNKNOWN_SESSION);
          loadFrom(state, values, rest, true, next);
        }, next)
        .catch(next);
      return;
    }
    // Only a cookie we signed is cleared: an unsigned one of the same name may belong to
    // another app on this host, and forged ones get no answer at all.
    if (signed) reject(state);
    next();
  }

  return function sessionMiddleware(req, res, next) {
    const state = slot.attach(req, res);
    if (!state) {
      next();
      return;
    }
    const header = req.headers.cookie;
    if (!header) {
      next();
      return;
    }
    const values = findCookieValues(header, cookieName, MAX_CANDIDATES);
    if (values.length === 0) {
      next();
      return;
    }
    state.hadCookie = true;
    if (onEvent && values.length > 1) emit(DUPLICATE_COOKIE);
    loadFrom(state, values, 0, false, next);
  };
}
