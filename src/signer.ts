import { createHmac, timingSafeEqual } from 'node:crypto';

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

function mac(value: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(value).digest('base64').slice(0, MAC_LENGTH);
}

export class Signer {
  /** The secrets as bytes (a string secret is its UTF-8, as `createHmac` would encode it). */
  readonly #secrets: readonly Buffer[];

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
  unsign(value: string): { id: string; renew: boolean } | undefined {
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
      if (timingSafeEqual(expected, givenBytes)) return { id, renew: i > 0 };
    }
    return undefined;
  }
}
