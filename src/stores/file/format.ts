/**
 * The FileStore's on-disk format: file names, serialization, validation and optional
 * encryption at rest. Pure functions of bytes; no file-system access here.
 *
 * Plain file:      {"v":1,"id":"…","createdAt":…,"expiresAt":…,"data":{…}}
 * Encrypted file:  {"v":1,"alg":"aes-256-gcm","iv":"…","tag":"…","ct":"…"} (base64), where
 *                  `ct` is the plain file's JSON, encrypted with a key derived by HKDF-SHA256
 *                  from `encryptionKey`, a random 96-bit IV per write, and the file name as AAD
 *                  (so a file copied over another session's name does not decrypt).
 */
import * as crypto from 'node:crypto';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { setBounded } from '../../bounded-map.js';
import { isValidSessionId } from '../../id.js';
import type { JsonValue, SessionRecord } from '../../types.js';

/** A session file: 64 lowercase hex characters (sha256 or HMAC-SHA256 of the id) + `.json`. */
export const SESSION_FILE = /^[0-9a-f]{64}\.json$/;
/** Scratch files (write temps, broken locks): `<name>[.lock].<base36 ms>.<hex>.tmp`. */
export const SCRATCH_FILE =
  /^[0-9a-f]{64}\.json(?:\.lock|\.moved)?\.([0-9a-z]{1,12})\.[0-9a-f]{1,32}\.tmp$/;
/** The cross-process lock of one session (`multiProcess: true`). */
export const LOCK_FILE = /^[0-9a-f]{64}\.json\.lock$/;
/**
 * A regenerated session's forward: names the file the session moved to, mtime = until when a
 * destroy of the old session also removes the new one.
 */
export const FORWARD_FILE = /^[0-9a-f]{64}\.json\.moved$/;
/** A session file moved aside because its content was invalid. */
export const CORRUPT_FILE = /^[0-9a-f]{64}\.json\.corrupt$/;

/** A scratch name next to `base`, carrying its creation time so cleanup needs no `stat`. */
export function scratchName(base: string): string {
  return `${base}.${Date.now().toString(36)}.${randomBytes(6).toString('hex')}.tmp`;
}

/** The creation time (ms) encoded in a scratch name, or `undefined` when it is not one. */
export function scratchTime(name: string): number | undefined {
  const match = SCRATCH_FILE.exec(name);
  if (!match) return undefined;
  const time = Number.parseInt(match[1] as string, 36);
  return Number.isFinite(time) ? time : undefined;
}

/** A successfully parsed session file. */
export interface ParsedSession {
  id: string;
  record: SessionRecord;
}

/**
 * `crypto.hash` (Node 20.12+): a one-shot digest without a Hash object, several times cheaper
 * for a 32-byte id than `createHash().update().digest()`.
 */
const oneShotHash = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
const sha256Hex: (text: string) => string = oneShotHash
  ? (text) => oneShotHash('sha256', text, 'hex')
  : (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * File names remembered per codec: a request looks its session's name up two or three times
 * (read, write, the read's check), each a SHA-256 or HMAC otherwise. Ids are validated before
 * they get here, so an entry is at most ~300 bytes.
 */
const NAME_MEMO = 4096;

const ALG = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Serializes and parses session files; one instance per store (holds the derived keys). */
export class FileCodec {
  readonly #encKey: Buffer | undefined;
  readonly #nameKey: Buffer | undefined;
  readonly #names = new Map<string, string>();

  constructor(encryptionKey?: string | Uint8Array) {
    if (encryptionKey === undefined) return;
    const ikm =
      typeof encryptionKey === 'string' ? Buffer.from(encryptionKey, 'utf8') : encryptionKey;
    const salt = Buffer.from('session-store-js FileStore v1', 'utf8');
    this.#encKey = Buffer.from(hkdfSync('sha256', ikm, salt, 'file content', 32));
    this.#nameKey = Buffer.from(hkdfSync('sha256', ikm, salt, 'file name', 32));
  }

  /** The file name of a (valid) id: sha256 hex, or HMAC-SHA256 hex under encryption. */
  fileName(id: string): string {
    const names = this.#names;
    let name = names.get(id);
    if (name !== undefined) return name;
    const hex = this.#nameKey
      ? createHmac('sha256', this.#nameKey).update(id, 'utf8').digest('hex')
      : sha256Hex(id);
    name = `${hex}.json`;
    setBounded(names, id, name, NAME_MEMO);
    return name;
  }

  /**
   * The bytes of the file `name` holding `record` for `id`. `dataJson`, when the caller has it,
   * is `JSON.stringify(record.data)` (the cache keeps the same text, so it is made once).
   */
  serialize(
    id: string,
    record: SessionRecord,
    name: string,
    dataJson: string = JSON.stringify(record.data),
  ): Buffer {
    // The same text as JSON.stringify of the whole object, built around the data's own JSON.
    const plain = Buffer.from(
      `{"v":1,"id":${JSON.stringify(id)},"createdAt":${JSON.stringify(record.createdAt)},"expiresAt":${JSON.stringify(record.expiresAt)},"data":${dataJson}}`,
      'utf8',
    );
    if (!this.#encKey) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALG, this.#encKey, iv);
    cipher.setAAD(Buffer.from(name, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    const envelope = {
      v: 1,
      alg: ALG,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    };
    return Buffer.from(JSON.stringify(envelope), 'utf8');
  }

  /**
   * Parses the bytes of file `name`. Returns the session, or a short reason (no id, no content)
   * why the file is invalid: bad JSON, wrong shape or types, an id that does not belong to this
   * file name, or (encrypted) a failed authentication.
   */
  parse(bytes: Buffer, name: string): ParsedSession | string {
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      return 'not valid JSON';
    }
    if (this.#encKey) {
      const plain = this.#decrypt(value, name);
      if (typeof plain === 'string') return plain;
      try {
        value = JSON.parse(plain.toString('utf8'));
      } catch {
        return 'decrypted content is not valid JSON';
      }
    }
    return this.#validate(value, name);
  }

  #decrypt(value: unknown, name: string): Buffer | string {
    if (!isObject(value) || value.v !== 1 || value.alg !== ALG) return 'not an encrypted envelope';
    const { iv, tag, ct } = value;
    if (typeof iv !== 'string' || typeof tag !== 'string' || typeof ct !== 'string') {
      return 'not an encrypted envelope';
    }
    const ivBytes = Buffer.from(iv, 'base64');
    const tagBytes = Buffer.from(tag, 'base64');
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
      return 'not an encrypted envelope';
    }
    try {
      const decipher = createDecipheriv(ALG, this.#encKey as Buffer, ivBytes, {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(name, 'utf8'));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]);
    } catch {
      return 'decryption failed (wrong key or tampered file)';
    }
  }

  #validate(value: unknown, name: string): ParsedSession | string {
    if (!isObject(value)) return 'not a JSON object';
    if (value.v !== 1) return 'unknown format version';
    const { id, createdAt, expiresAt, data } = value;
    if (!isValidSessionId(id)) return 'missing or invalid id';
    if (this.fileName(id) !== name) return 'id does not belong to this file name';
    if (!isTime(createdAt) || !isTime(expiresAt)) return 'missing or invalid times';
    if (!isObject(data)) return 'missing or invalid data';
    // JSON.parse makes `__proto__` an own data property; copying it onto a null-prototype
    // object keeps it an inert own key.
    const copy = Object.assign(Object.create(null), data) as Record<string, JsonValue>;
    return { id, record: { data: copy, createdAt, expiresAt } };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A time in ms since the epoch: a finite, non-negative number (`"never"`, `1e309` fail). */
export function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Small files are padded with trailing spaces (valid JSON whitespace) to a multiple of 256
 * bytes, so the next writes of a session that grows a little still fit in place.
 */
const PAD_TO = 256;
/** One page: the largest file rewritten in place. */
export const IN_PLACE_LIMIT = 4096;

export function padded(bytes: Buffer): Buffer {
  if (bytes.length > IN_PLACE_LIMIT) return bytes;
  return padTo(bytes, Math.min(IN_PLACE_LIMIT, Math.ceil(bytes.length / PAD_TO) * PAD_TO));
}

/** `bytes` followed by spaces up to `size` bytes (at least `bytes.length`), in one buffer. */
export function padTo(bytes: Buffer, size: number): Buffer {
  if (size === bytes.length) return bytes;
  const content = Buffer.allocUnsafe(size);
  bytes.copy(content);
  content.fill(0x20, bytes.length);
  return content;
}
