import { createHmac, timingSafeEqual } from 'node:crypto';
import { setBounded } from './bounded-map.js';

/**
 * Cookie signing in express-session's format, so an app can switch without logging anyone out:
 * `s:` + id + `.` + HMAC-SHA256(secret, id) in standard base64 without `=` padding.
 * (The cookie serializer then URL-encodes it: `s%3A…`.)
 */

/** A secret as accepted by `SessionManager`: the first one signs, every one verifies. */
export type Secret = string | Buffer;

const PREFIX = 's:';
/** Length of an unpadded base64 SHA-256 digest. */
const MAC_LENGTH = 43;
/**
 * How many verified values are remembered. A returning browser sends the same cookie on every
 * request, and an HMAC costs a few µs (most of it OpenSSL setting up the key), so verifying it
 * once per value and not per request is the largest single saving of a session read. The oldest
 * entry goes first; forgetting one costs one HMAC.
 */
const MAX_REMEMBERED = 10_000;

/** What `unsign` found: the id, and whether an older secret signed it. */
export interface Unsigned {
  readonly id: string;
  readonly renew: boolean;
}

function mac(value: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(value).digest('base64').slice(0, MAC_LENGTH);
}

export class Signer {
  /** The secrets as bytes (a string secret is its UTF-8, as `createHmac` would encode it). */
  readonly #secrets: readonly Buffer[];
  /**
   * Values whose MAC the first secret verified → what `unsign` returned for them. Only verified
   * values enter, so forged cookies can't fill it or push real ones out faster than real
   * traffic does. Keyed by the whole signed value, like the stores' own maps keyed by id; the
   * secrets never change for a signer, so nothing here outlives the key that verified it.
   */
  readonly #verified = new Map<string, Unsigned>();

  /** `secrets` must be non-empty; validated by the manager. */
  constructor(secrets: readonly Secret[]) {
    // Encoded once here instead of on every HMAC; copied, so later changes to a caller's Buffer
    // can't change the key.
    this.#secrets = secrets.map((secret) =>
      typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret),
    );
  }

  /** The signed cookie value (not yet URL-encoded) for `id`, with the first secret. */
  sign(id: string): string {
    return `${PREFIX}${id}.${mac(id, this.#secrets[0]!)}`;
  }

  /**
   * The id inside a signed value, or `undefined` when the value is not exactly
   * `s:<id>.<mac>` with a MAC from one of the secrets. Every secret is tried, in constant time
   * per comparison; a value with any extra or missing byte is rejected (cookie-signature#40).
   * `renew` is true when an older secret matched, so the caller can re-issue the cookie.
   */
  unsign(value: string): Unsigned | undefined {
    const known = this.#verified.get(value);
    if (known !== undefined) return known;
    if (!value.startsWith(PREFIX)) return undefined;
    const dot = value.lastIndexOf('.');
    if (dot < PREFIX.length) return undefined;
    const given = value.slice(dot + 1);
    if (given.length !== MAC_LENGTH) return undefined;
    const id = value.slice(PREFIX.length, dot);
    // UTF-8, not latin1: latin1 would fold U+0141 onto 0x41 and accept a look-alike MAC.
    const givenBytes = Buffer.from(given, 'utf8');
    if (givenBytes.length !== MAC_LENGTH) return undefined;
    for (let i = 0; i < this.#secrets.length; i++) {
      const expected = Buffer.from(mac(id, this.#secrets[i]!), 'utf8');
      if (timingSafeEqual(expected, givenBytes)) {
        // The copy matters: `value` is usually a slice of the request's whole Cookie header,
        // which a remembered slice (or an id cut from it) would keep alive. UTF-8 copies every
        // id exactly (a drop-in `genid` may return any text; a header holds no lone surrogate).
        const own = Buffer.from(value, 'utf8').toString('utf8');
        const verified: Unsigned = Object.freeze({
          id: own.slice(PREFIX.length, dot),
          renew: i > 0,
        });
        // Only the first secret's values: an older secret's cookie is re-issued right away.
        if (i === 0) this.#remember(own, verified);
        return verified;
      }
    }
    return undefined;
  }

  #remember(value: string, verified: Unsigned): void {
    setBounded(this.#verified, value, verified, MAX_REMEMBERED);
  }
}
