// Shared constants and small helpers of the benchmark suite (plain ESM, no build step).
import { randomBytes } from 'node:crypto';

/** Every contestant, in the order of a round. `bare` must stay first: ratios divide by it. */
export const CONTESTANTS = [
  'bare',
  'express-session-memory',
  'memorystore',
  'session-file-store',
  'connect-redis',
  'ssjs-memory',
  'ssjs-file',
  'ssjs-redis',
];

/** Contestants that are session-store-js. */
export const SSJS = new Set(['ssjs-memory', 'ssjs-file', 'ssjs-redis']);

/** Contestants that need the Redis server. */
export const NEEDS_REDIS = new Set(['connect-redis', 'ssjs-redis']);

export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
export const COOKIE_NAME = 'sid';
export const MAX_AGE = 86_400_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A random key prefix root for this benchmark run, e.g. `ssjs-bench:3f9a1c…:`. */
export function randomPrefixRoot() {
  return `ssjs-bench:${randomBytes(6).toString('hex')}:`;
}

export function median(values) {
  const list = values
    .filter((v) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (list.length === 0) return undefined;
  const mid = list.length >> 1;
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2;
}

/** Deletes every Redis key that starts with `prefix` (SCAN + UNLINK); resolves the count. */
export async function deleteRedisPrefix(client, prefix) {
  let deleted = 0;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    const list = Array.isArray(keys) ? keys : [keys];
    if (list.length > 0) deleted += await client.unlink(list);
  }
  return deleted;
}

/** Connects a node-redis v5 client that fails fast while Redis is down (no offline queue). */
export async function connectRedis() {
  const { createClient } = await import('redis');
  const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  return client;
}
