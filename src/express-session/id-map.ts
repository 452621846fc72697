import { createHash } from 'node:crypto';
import { InvalidSessionIdError } from '../errors.js';
import { isValidSessionId } from '../id.js';

/**
 * express-session accepts any id a custom `genid` returns (`'apple'`, `'%2F..'`, ids derived
 * from the request). Our stores accept only the strict id pattern, so such an id is stored under
 * its SHA-256 (base64url, 43 characters: inside the pattern) and the original travels in the
 * record, where reads check it. An id never reaches a file name or a key raw.
 */

/** Longest id accepted from express-session. */
const MAX_ID_LENGTH = 4096;

/** The store id for express-session id `sid`, and whether it differs (the record must carry `sid`). */
export function storeIdOf(sid: unknown): { id: string; mapped: boolean } {
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > MAX_ID_LENGTH) {
    throw new InvalidSessionIdError(
      `session id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`,
    );
  }
  if (isValidSessionId(sid)) return { id: sid, mapped: false };
  return { id: createHash('sha256').update(sid, 'utf8').digest('base64url'), mapped: true };
}
