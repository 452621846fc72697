// Shared constants and small helpers of the benchmark suite (plain ESM, no build step).
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
export const COOKIE_NAME = 'sid';
export const MAX_AGE = 86_400_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/test';

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

/** A node-postgres pool on the benchmark's database (PG_URL). */
export async function pgPool(max = 10) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: PG_URL, max });
  pool.on('error', () => {});
  return pool;
}

/** A random schema name for this run, e.g. `ssjs_bench_3f9a1c…`: created and dropped by the run. */
export function randomSchema() {
  return `ssjs_bench_${randomBytes(6).toString('hex')}`;
}

/**
 * The signed cookie header (`sid=s%3A<id>.<mac>`) that express-session and session-store-js
 * both accept for `id`: HMAC-SHA256 with SECRET, base64 without padding, URL-encoded.
 */
export function signedCookie(id) {
  const mac = createHmac('sha256', SECRET).update(id).digest('base64').replace(/=+$/, '');
  return `${COOKIE_NAME}=${encodeURIComponent(`s:${id}.${mac}`)}`;
}

/** A random session id of the shape both libraries accept (24 bytes, base64url). */
/**
 * Bytes in use: V8's heap and the ArrayBuffers outside it (MemoryStore keeps its table in typed
 * arrays, which a heap-only figure would leave out).
 */
export function memoryInUse() {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export function randomId() {
  return randomBytes(24).toString('base64url');
}
