// Filling a store with many small sessions ({ visits: 1 }) fast, without HTTP: the FileStore's
// files written straight in its on-disk format, Redis hashes in its layout by a server-side
// script, PostgreSQL rows by one INSERT … SELECT. (MemoryStore is filled inside the server
// process, see BENCH_PREFILL in server.mjs.) Each returns { count, seconds, perSecond }.
import { createHash } from 'node:crypto';
import { closeSync, futimesSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_AGE, randomId } from './common.mjs';

/** The width of one bucket of the FileStore's expiry index (ms). */
const HOUR = 3_600_000;

/**
 * FileStore: `sha256(id).json`, mode 0600, the JSON record padded with spaces to 256 bytes (as
 * the store pads small files), mtime = expiry, and each name on a line of its expiry hour's file
 * in `expiry/` (the store's expiry index, which its cleanup sweeps read), plus `expiry/full-scan`
 * (mtime now: the index covers every file, so a cleanup is the regular sweep, not a full scan).
 * Sessions from `expiredCount` on are written already expired (content and mtime, an hour and a
 * minute ago so their hour has passed), for the cleanup figures.
 */
export function prefillFiles(dir, count, { expired = 0 } = {}) {
  const index = join(dir, 'expiry');
  mkdirSync(index, { recursive: true, mode: 0o700 });
  const started = performance.now();
  const now = Date.now();
  const page = Buffer.alloc(256);
  const lines = new Map();
  const flush = () => {
    for (const [bucket, names] of lines) {
      const fd = openSync(join(index, String(bucket)), 'a', 0o600);
      try {
        writeSync(fd, names.join(''));
      } finally {
        closeSync(fd);
      }
    }
    lines.clear();
  };
  for (let i = 0; i < count + expired; i++) {
    const id = randomId();
    const expiresAt = i < count ? now + MAX_AGE : now - HOUR - 60_000;
    const createdAt = i < count ? now : expiresAt - MAX_AGE;
    const json = `{"v":1,"id":"${id}","createdAt":${createdAt},"expiresAt":${expiresAt},"data":{"visits":1}}`;
    page.fill(0x20);
    page.write(json);
    const name = `${createHash('sha256').update(id).digest('hex')}.json`;
    const bucket = Math.floor(expiresAt / HOUR) * HOUR;
    if (!lines.has(bucket)) lines.set(bucket, []);
    lines.get(bucket).push(`${name}\n`);
    if (i % 4096 === 4095) flush();
    const fd = openSync(join(dir, name), 'wx', 0o600);
    try {
      writeSync(fd, page);
      futimesSync(fd, expiresAt / 1000, expiresAt / 1000);
    } finally {
      closeSync(fd);
    }
  }
  flush();
  const marker = openSync(join(index, 'full-scan'), 'w', 0o600);
  closeSync(marker);
  return done(count + expired, started);
}

// ARGV[1] prefix, ARGV[2] createdAt, ARGV[3] expiresAt, ARGV[4…] ids. Keys are built inside the
// script, so it runs on one Redis only (not a cluster): fine for a benchmark's local server.
const REDIS_FILL = `
for i = 4, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  redis.call('HSET', key, 'c', ARGV[2], 'e', ARGV[3], 'd:visits', '1')
  redis.call('PEXPIREAT', key, ARGV[3])
end
return #ARGV - 3
`;

/** RedisStore: one hash per session at `prefix + id` (c, e, d:visits), PEXPIREAT e. */
export async function prefillRedis(client, prefix, count) {
  const started = performance.now();
  const now = Date.now();
  const batch = 2000;
  for (let sent = 0; sent < count; sent += batch) {
    const n = Math.min(batch, count - sent);
    const ids = Array.from({ length: n }, randomId);
    await client.sendCommand([
      'EVAL',
      REDIS_FILL,
      '0',
      prefix,
      String(now),
      String(now + MAX_AGE),
      ...ids,
    ]);
  }
  return done(count, started);
}

/**
 * PostgresStore (its own layout): `count` live rows and `expired` expired ones in one
 * INSERT … SELECT. Ids are base64url SHA-256 digests of a random seed and the row number
 * (43 characters, a valid session id). `table` is the quoted `"schema"."table"`.
 */
export async function prefillPostgres(pool, table, count, { expired = 0 } = {}) {
  const started = performance.now();
  const now = Date.now();
  const seed = randomId();
  const insert = (n, createdAt, expiresAt) =>
    pool.query(
      `INSERT INTO ${table} (id, data, created_at, expires_at)
       SELECT translate(encode(sha256(($1 || g)::bytea), 'base64'), '+/=', '-_'), '{"visits":1}'::jsonb, $2, $3
       FROM generate_series($4::int, $5::int) AS g`,
      [seed, createdAt, expiresAt, n.from, n.to],
    );
  // Batches of 100,000 rows keep each statement short (the server is shared).
  for (let from = 1; from <= count; from += 100_000)
    await insert({ from, to: Math.min(count, from + 99_999) }, now, now + MAX_AGE);
  if (expired > 0)
    await insert({ from: count + 1, to: count + expired }, now - MAX_AGE - 60_000, now - 60_000);
  await pool.query(`ANALYZE ${table}`);
  return done(count + expired, started);
}

/** `pg_total_relation_size` of `table` (heap, indexes and TOAST), in bytes. */
export async function postgresTableBytes(pool, table) {
  const { rows } = await pool.query('SELECT pg_total_relation_size($1::regclass)::bigint AS n', [
    table,
  ]);
  return Number(rows[0].n);
}

/** Redis `used_memory` (bytes) from INFO memory. */
export async function redisUsedMemory(client) {
  const info = await client.sendCommand(['INFO', 'memory']);
  const match = /used_memory:(\d+)/.exec(String(info));
  return match ? Number(match[1]) : undefined;
}

function done(count, started) {
  const seconds = (performance.now() - started) / 1000;
  return { count, seconds, perSecond: count / seconds };
}
