/**
 * Rolling renewals of one manager, shared by the requests of this process: concurrent readers of
 * a session whose renewal is due make one store `touch` between them, and readers that loaded
 * the session just before a renewal landed don't renew it again. Without this, each request
 * decides from its own loaded copy of the expiry, and 40 readers arriving together write 40 times.
 */
import { setBounded } from './bounded-map.js';

/** How a renewal ended: the store moved the expiry, the session is gone, or the write failed. */
export type RenewalOutcome = 'renewed' | 'gone' | 'failed';

interface Renewal {
  /** The expiry written (or being written). */
  readonly expiresAt: number;
  /** Settles when the store answered; never rejects. */
  readonly done: Promise<RenewalOutcome>;
}

/**
 * At most this many sessions are remembered; the oldest entry goes first. Forgetting one only
 * costs a renewal that the store's conditional touch then turns into a no-op.
 */
const MAX_REMEMBERED = 10_000;

export class Renewals {
  readonly #byId = new Map<string, Renewal>();

  /** The renewal in flight or last done for `id` by this process, if remembered. */
  latest(id: string): Renewal | undefined {
    return this.#byId.get(id);
  }

  /**
   * Records the renewal of `id` to `expiresAt` that `write` performs, and resolves its outcome.
   * A failed or lost renewal is forgotten, so the next reader tries again; `onFailure` gets the
   * error of a failed one (once, whoever else waits for it).
   */
  start(
    id: string,
    expiresAt: number,
    write: Promise<boolean>,
    onFailure: (error: unknown) => void,
  ): Promise<RenewalOutcome> {
    const byId = this.#byId;
    const done = write.then(
      (live): RenewalOutcome => (live ? 'renewed' : 'gone'),
      (error: unknown): RenewalOutcome => {
        onFailure(error);
        return 'failed';
      },
    );
    const renewal: Renewal = { expiresAt, done };
    setBounded(byId, id, renewal, MAX_REMEMBERED);
    done.then((outcome) => {
      if (outcome !== 'renewed' && byId.get(id) === renewal) byId.delete(id);
    });
    return done;
  }

  /** The session ended (destroyed, regenerated): nothing about it is worth remembering. */
  forget(id: string): void {
    this.#byId.delete(id);
  }
}
