/**
 * Whether the Redis behind a store never evicts keys (`maxmemory-policy noeviction`, Redis's
 * default). Only then can RedisStore vouch that a bound session is in its user's index: under an
 * evicting policy Redis may drop a user's index while the sessions it lists stay, and a
 * revocation would miss them, so their loads keep the epoch check. The policy is read with
 * `CONFIG GET` when first asked and again once a minute (a policy changed by `CONFIG SET`), in
 * the background; a read that fails is tried again a second later. Until an answer says
 * `noeviction`, and whenever `CONFIG` is refused (as on some managed services), the answer is no.
 */
import type { RedisCommander } from './client.js';

/** How long an answer is used before it is read again. */
const RECHECK_MS = 60_000;
/** How soon a read that failed (not connected yet, a timeout) is tried again. */
const RETRY_MS = 1_000;

export class EvictionPolicy {
  #noEviction = false;
  /** When the answer is read again (0: now); `Infinity` while a read is out. */
  #nextReadAt = 0;

  /** The last answer; starts a fresh read when one is due (never waits for it). */
  neverEvicts(cmd: RedisCommander, now: number): boolean {
    if (now >= this.#nextReadAt) this.#read(cmd, now);
    return this.#noEviction;
  }

  #read(cmd: RedisCommander, now: number): void {
    this.#nextReadAt = Number.POSITIVE_INFINITY;
    cmd.send('', ['CONFIG', 'GET', 'maxmemory-policy']).then(
      (reply) => this.#settle(policyOf(reply) === 'noeviction', now + RECHECK_MS),
      () => this.#settle(false, now + RETRY_MS),
    );
  }

  #settle(noEviction: boolean, nextReadAt: number): void {
    this.#noEviction = noEviction;
    this.#nextReadAt = nextReadAt;
  }
}

/** The value of a `CONFIG GET maxmemory-policy` reply: a flat pair (RESP2) or a map (RESP3). */
function policyOf(reply: unknown): string | undefined {
  if (Array.isArray(reply)) return reply[1] === undefined ? undefined : String(reply[1]);
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)['maxmemory-policy'];
    return value === undefined ? undefined : String(value);
  }
  return undefined;
}
