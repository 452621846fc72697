import { Cookie } from './cookie-object.js';
import { storeIdOf } from './id-map.js';
import { Session, type SessionOwner } from './session-object.js';
import type { DropInRequest } from './session-options.js';
import { attachSnapshot, snapshotOfStored } from './snapshot.js';

/** A stored session as the drop-in's `req.session`: expired ones refused, loaded ones snapshotted. */

/** `req.session` as the drop-in uses it: a `Session` with its `Cookie`. */
export type LiveSession = Session & { cookie: Cookie };

/**
 * A stored session whose cookie says it has expired. express-session trusts the store here; a
 * store that keeps expired sessions (or one whose clock differs) would let them live on.
 */
export function isExpired(stored: object): boolean {
  const expires = (stored as { cookie?: { expires?: unknown } }).cookie?.expires;
  if (expires === null || expires === undefined) return false;
  const time = expires instanceof Date ? expires.valueOf() : Date.parse(String(expires));
  return Number.isFinite(time) && time <= Date.now();
}

/**
 * `req.session` from stored data, as express-session's `Store#createSession` builds it, plus
 * the snapshot a session-store-js store diffs against on `set` (other stores never see it).
 */
export function createSession(
  req: DropInRequest & SessionOwner,
  stored: Record<string, unknown>,
): LiveSession {
  const sid = req.sessionID!;
  const snapshot = snapshotOfStored(stored, storeIdOf(sid).mapped ? sid : undefined);
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
