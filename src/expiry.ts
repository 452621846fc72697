/**
 * Expiry arithmetic of the manager, as pure functions of times in ms since the epoch: the idle
 * lifetime with its absolute cap, the sanity check applied to whatever a store returns, and when
 * a renewal is worth a store write. Stores only ever see the absolute times computed here.
 */

/** The lifetimes a session is held to. */
export interface Lifetimes {
  /** Idle lifetime (ms): a session not renewed for this long expires. */
  readonly maxAge: number;
  /** Absolute cap (ms) from the session's creation, when set. */
  readonly absoluteTimeout: number | undefined;
}

/** Clock skew tolerated between machines sharing a store, for the `createdAt` sanity check. */
export const CLOCK_SKEW_MS = 60_000;

/** The expiry of a session created at `createdAt` and renewed at `now`: idle, within the cap. */
export function expiryFor(lifetimes: Lifetimes, createdAt: number, now: number): number {
  const idle = now + lifetimes.maxAge;
  const absolute = lifetimes.absoluteTimeout;
  return absolute === undefined ? idle : Math.min(idle, createdAt + absolute);
}

/**
 * Whether a stored session's times make it live at `now`: finite, not expired, not created in the
 * future (beyond the skew), not expiring further away than `maxAge` allows (a clock or caller
 * error), and within the absolute cap.
 */
export function isLive(
  lifetimes: Lifetimes,
  record: { readonly createdAt: number; readonly expiresAt: number },
  now: number,
): boolean {
  const { createdAt, expiresAt } = record;
  if (!(Number.isFinite(createdAt) && Number.isFinite(expiresAt))) return false;
  if (expiresAt <= now || createdAt > now + CLOCK_SKEW_MS) return false;
  if (expiresAt > now + lifetimes.maxAge + CLOCK_SKEW_MS) return false;
  const absolute = lifetimes.absoluteTimeout;
  return absolute === undefined || createdAt + absolute > now;
}

/** Whether moving the expiry from `current` to `next` gains at least `touchAfter`: worth a write. */
export function renewalDue(next: number, current: number, touchAfter: number): boolean {
  return next - current >= touchAfter;
}
