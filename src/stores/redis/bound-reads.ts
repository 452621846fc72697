/**
 * Loads of sessions bound to a user in one round trip. The manager checks a bound session
 * against its user's epoch on every load, and read apart that is a second round trip per request
 * of a signed-in user. The epoch's key follows from the user id, which is inside the record, so
 * one script could find it only by naming a key it was not given, which Redis Cluster refuses.
 * Instead the store remembers the sessions it has seen bound (when it created or loaded them) and
 * loads those with one script given both keys: the record and the epoch read atomically. What is
 * remembered is only a hint: the epoch is used only when the record's binding names the
 * remembered user, otherwise the manager reads it itself. Other sessions are loaded with a plain
 * `HGETALL`, as are all sessions on Redis Cluster (the two keys live in different slots).
 */
import { script } from './scripts.js';

/** What is remembered of a bound session: its user, and that user's epoch key. */
export interface KnownBinding {
  readonly userId: string;
  readonly epochKey: string;
}

/** Sessions remembered; the oldest makes room (a forgotten one costs a second round trip once). */
const CAPACITY = 4096;

/** The bound sessions this store saw recently, by session key. */
export class BoundSessions {
  readonly #entries = new Map<string, KnownBinding>();

  get(key: string): KnownBinding | undefined {
    return this.#entries.get(key);
  }

  remember(key: string, binding: KnownBinding): void {
    const entries = this.#entries;
    entries.delete(key);
    if (entries.size >= CAPACITY) entries.delete(entries.keys().next().value as string);
    entries.set(key, binding);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * KEYS = session, epoch key → `{HGETALL of the session, GET of the epoch}`, or `{HGETALL}` alone
 * when the epoch key can't be read (the manager then reads it itself and reports why). A session
 * key that is not a hash fails with Redis's own `WRONGTYPE`, as a plain `HGETALL` does.
 */
export const GET_BOUND = script(`
local h = redis.pcall('HGETALL', KEYS[1])
if h.err then return h end
local epoch = redis.pcall('GET', KEYS[2])
if type(epoch) == 'table' then return {h} end
return {h, epoch}
`);

/** A GET_BOUND reply → the HGETALL reply and the epoch's (`undefined`: not read). */
export function splitBoundReply(reply: unknown): [unknown, unknown] {
  if (!Array.isArray(reply)) return [undefined, undefined];
  return [reply[0], reply.length > 1 ? (reply[1] ?? null) : undefined];
}
