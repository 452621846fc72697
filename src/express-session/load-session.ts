import { Cookie } from './cookie-object.js';
import { parseIso } from './date-text.js';
import { storeIdOf } from './id-map.js';
import { Session, type SessionOwner } from './session-object.js';
import type { DropInRequest } from './session-options.js';
import { attachSnapshot, snapshotOfStored } from './snapshot.js';

/** A stored session as the drop-in's `req.session`: expired ones refused, loaded ones snapshotted. */

/** `req.session` as the drop-in uses it: a `Session` with its `Cookie`. */
export type LiveSession = Session & { cookie: Cookie };

/**
 * `req.session` from stored data, as express-session's `Store#createSession` builds it, plus
 * the snapshot a session-store-js store diffs against on `set` (other stores never see it).
 * `undefined` when the stored cookie says the session has expired: express-session trusts the
 * store here, and a store that keeps expired sessions (or one whose clock differs) would let
 * them live on. Stored data without a `cookie` is a `TypeError`, as in express-session.
 */
export function loadSession(
  req: DropInRequest & SessionOwner,
  stored: Record<string, unknown>,
): LiveSession | undefined {
  const raw = stored.cookie as Record<string, unknown> | undefined;
  if (raw === null || typeof raw !== 'object') {
    throw new TypeError('the stored session has no cookie');
  }
  const expires = raw.expires;
  let date: Date | undefined;
  if (expires !== null && expires !== undefined) {
    date = expires instanceof Date ? expires : new Date(parseIso(String(expires)));
    if (date.getTime() <= Date.now()) return undefined;
  }
  const sid = req.sessionID!;
  const snapshot = snapshotOfStored(stored, storeIdOf(sid).mapped ? sid : undefined);
  const originalMaxAge = raw.originalMaxAge as number | null;
  const cookie = new Cookie(raw);
  if (typeof expires === 'string') cookie.expires = date!;
  cookie.originalMaxAge = originalMaxAge;
  const sess = new Session(req, stored) as LiveSession;
  sess.cookie = cookie;
  req.session = sess;
  attachSnapshot(sess, snapshot);
  return sess;
}
