/** Session records for store tests: one builder, so every test file states expiry the same way. */
import type { SessionRecord } from '../../src/types.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;

/**
 * A record holding a null-prototype copy of `data`, created now, expiring `ttl` ms from now or at
 * `expiresAt` when given.
 */
export function record(
  data: Record<string, unknown> = {},
  { ttl = HOUR, expiresAt }: { ttl?: number; expiresAt?: number } = {},
): SessionRecord {
  const now = Date.now();
  return {
    data: Object.assign(Object.create(null), data) as SessionRecord['data'],
    createdAt: now,
    expiresAt: expiresAt ?? now + ttl,
  };
}
