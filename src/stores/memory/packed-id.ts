/**
 * Session ids packed into integers, so MemoryStore can keep a million of them in one typed array
 * instead of a million strings. An id is 22 to 64 base64url characters (the store checks that
 * first); each character is 6 bits, five go into one 32-bit word, so 13 words hold any id.
 */

/** Words per packed id: ⌈64 / 5⌉. */
export const ID_WORDS = 13;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Character code → its 6 bits (0–63). */
const SIXTETS = new Uint8Array(128);
for (let i = 0; i < ALPHABET.length; i++) SIXTETS[ALPHABET.charCodeAt(i)] = i;

/**
 * Writes the words of `id` (a valid session id) to `out` from `at`; the words past its length
 * are zeroed, so two ids are equal exactly when their lengths and all 13 words are (the length
 * tells "A" from "AA": both pack to zeros).
 */
export function packId(id: string, out: Int32Array, at: number): void {
  const length = id.length;
  let c = 0;
  for (let w = 0; w < ID_WORDS; w++) {
    let word = 0;
    for (let k = 0; k < 5 && c < length; k++, c++) {
      word = (word << 6) | (SIXTETS[id.charCodeAt(c)] as number);
    }
    out[at + w] = word;
  }
}

/** The id packed at `at` in `words`, `length` characters long. */
export function unpackId(words: Int32Array, at: number, length: number): string {
  let id = '';
  for (let w = 0; w * 5 < length; w++) {
    const count = Math.min(5, length - w * 5);
    const word = words[at + w] as number;
    for (let k = count - 1; k >= 0; k--) {
      id += ALPHABET[(word >>> (6 * k)) & 63];
    }
  }
  return id;
}

/**
 * A 32-bit hash of the packed id at `at`, keyed by `seed` (a random number per store) so which
 * ids share a bucket cannot be known in advance. The ids a store holds are the ones it was given
 * to create, random ones from the id generator in all but imports.
 */
export function hashPackedId(words: Int32Array, at: number, seed: number): number {
  let h = seed;
  for (let w = 0; w < ID_WORDS; w++) {
    h = Math.imul(h ^ (words[at + w] as number), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
