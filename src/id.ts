import { randomBytes } from 'node:crypto';
import { InvalidSessionIdError } from './errors.js';

/**
 * Session ids are 24 random bytes (192 bits) from the CSPRNG, base64url without padding:
 * 32 characters of `[A-Za-z0-9_-]`, the same shape as express-session's `uid-safe(24)` ids.
 */
const ID_BYTES = 24;

/**
 * What any part of the library accepts as a session id: 22 to 64 characters of base64url
 * (22 characters = 128 bits, the floor ASVS 5 §7.2.3 sets). No dot, slash, backslash, NUL or
 * `..` can ever pass, so an id is safe as a file-name ingredient or a Redis key suffix.
 */
const ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/** A new, unguessable session id. */
export function generateSessionId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** True when `id` is a string of the accepted shape. */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Throws {@link InvalidSessionIdError} unless `id` is a valid session id. Stores call it first. */
export function assertValidSessionId(id: unknown): asserts id is string {
  if (!isValidSessionId(id)) throw new InvalidSessionIdError();
}
