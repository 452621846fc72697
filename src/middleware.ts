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
   * Loads the session of a correctly signed cookie into `state`; `renewCookie` when an older
   * secret signed it.
   */
  load(state: RequestState, id: string, renewCookie: boolean): Promise<void>;
}

/**
 * How many cookies of our name are considered. Duplicates arrive when another path or a parent
 * domain sets the same name; the first one that carries a valid signature is used.
 */
const MAX_CANDIDATES = 8;

/**
 * Cookie in, `req.sessionID` out. A request without a correctly signed cookie costs no store
 * read; with one, the session is loaded (one store read) before `next()`, so a store failure
 * reaches Express's error handler (status 503) instead of looking like "logged out".
 */
export function createMiddleware(context: MiddlewareContext): SessionMiddleware {
  const { slot, signer, cookieName, load } = context;
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
    for (const value of values) {
      const verified = signer.unsign(value);
      if (verified && isValidSessionId(verified.id)) {
        if (!verified.renew) {
          state.signedId = verified.id;
          state.signedValue = value;
        }
        load(state, verified.id, verified.renew).then(() => next(), next);
        return;
      }
    }
    next();
  };
}
