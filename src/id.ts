import { randomFillSync } from 'node:crypto';
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

/**
 * Random bytes are drawn from the CSPRNG 4 080 at a time (170 ids) instead of 24 per call: one
 * native call and no Buffer allocation per id. Every byte of the pool serves one id only; the
 * whole pool is refilled with fresh CSPRNG output when it runs out.
 */
const POOL_BYTES = 170 * ID_BYTES;
let pool: Buffer | undefined;
let poolOffset = POOL_BYTES;

/** A new, unguessable session id. */
export function generateSessionId(): string {
  if (poolOffset === POOL_BYTES || pool === undefined) {
    pool ??= Buffer.allocUnsafeSlow(POOL_BYTES);
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset = start + ID_BYTES;
  return pool.toString('base64url', start, poolOffset);
}

/** True when `id` is a string of the accepted shape. */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Throws {@link InvalidSessionIdError} unless `id` is a valid session id. Stores call it first. */
export function assertValidSessionId(id: unknown): asserts id is string {
  if (!isValidSessionId(id)) throw new InvalidSessionIdError();
}
