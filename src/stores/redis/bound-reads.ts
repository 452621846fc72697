/**
 * Loads of sessions bound to a user in one round trip. The manager checks a bound session
 * against its user's epoch on every load; read apart, that is a second round trip per request of
 * a signed-in user. The epoch's key follows from the user id, which is inside the record, so the
 * store remembers the sessions it has seen bound (when it created or loaded them) and sends the
 * `GET` of the user's epoch together with the `HGETALL` of such a session, the epoch first: on one
 * connection Redis runs them in that order, so the epoch is never older than the load, and a
 * session re-stamped by a revocation (its binding moved to the new epoch just before the raise)
 * can't be read with its old binding against the new epoch. A script reading both keys was
 * measured and dropped: it costs Redis ~10 µs of CPU per load against ~2 µs for the two
 * commands, and as much CPU in the app. What is remembered is only a hint: the epoch is used only
 * when the record's binding names the remembered user, otherwise the manager reads it itself.
 * Other sessions load with the `HGETALL` alone, as do all sessions on Redis Cluster, where the
 * two keys live on different nodes and the manager reads the epoch with a call of its own.
 */

import { setBounded } from '../../bounded-map.js';

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
    setBounded(this.#entries, key, binding, CAPACITY);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}
