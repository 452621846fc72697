/**
 * The real express-session stores the interop tests wrap: express-session's MemoryStore,
 * memorystore, session-file-store (temp directory), connect-redis (node-redis, random prefix on
 * the shared Redis) and connect-pg-simple (its own table, in a random schema of the shared
 * PostgreSQL). Each fixture removes what it created.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore as ConnectRedis } from 'connect-redis';
import session from 'express-session';
import type pg from 'pg';
import { createClient } from 'redis';
import type { ExpressStoreLike } from '../../src/legacy-call.js';
import { pgSkipReason, testPool } from '../helpers/postgres.js';
import { REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';

const require = createRequire(import.meta.url);
type StoreClass = new (options: object) => ExpressStoreLike;
const createMemoryStore = require('memorystore') as (s: typeof session) => StoreClass;
const createFileStore = require('session-file-store') as (s: typeof session) => StoreClass;

/** A live express-session store and how to remove what it holds. */
export interface LegacyFixture {
  store: ExpressStoreLike;
  /** Reads a raw stored session object the way the store keeps it (`undefined` when absent). */
  raw(id: string): Promise<unknown>;
  cleanup(): Promise<void>;
}

export function expressMemoryStore(): LegacyFixture {
  const store = new session.MemoryStore();
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  return {
    store,
    raw: async (id) => (sessions[id] === undefined ? undefined : JSON.parse(sessions[id])),
    cleanup: async () => {},
  };
}

export function memorystore(): LegacyFixture {
  const MemoryStore = createMemoryStore(session);
  const store = new MemoryStore({ checkPeriod: 0 });
  const cache = (store as unknown as { store: { peek(id: string): string | undefined } }).store;
  return {
    store,
    raw: async (id) => {
      const value = cache.peek(id);
      return value === undefined ? undefined : JSON.parse(value);
    },
    cleanup: async () => {},
  };
}

export async function sessionFileStore(): Promise<LegacyFixture & { path: string }> {
  const path = await mkdtemp(join(tmpdir(), 'sst-file-store-'));
  const FileStore = createFileStore(session);
  // No retries: a missing session file would otherwise cost ~250 ms and log on every miss.
  const store = new FileStore({ path, retries: 0, reapInterval: -1, logFn: () => {} });
  const { readFile } = await import('node:fs/promises');
  return {
    store,
    path,
    raw: async (id) => {
      try {
        return JSON.parse(await readFile(join(path, `${id}.json`), 'utf8'));
      } catch {
        return undefined;
      }
    },
    cleanup: () => rm(path, { recursive: true, force: true }),
  };
}

/** connect-redis on the shared Redis; `undefined` (with the reason) when Redis doesn't answer. */
export async function connectRedis(): Promise<
  (LegacyFixture & { prefix: string; client: ReturnType<typeof createClient> }) | string
> {
  const reason = await redisSkipReason();
  if (reason) return reason;
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  const prefix = randomPrefix('connect-redis');
  const store = new ConnectRedis({ client, prefix }) as unknown as ExpressStoreLike;
  return {
    store,
    prefix,
    client,
    raw: async (id) => {
      const value = await client.get(prefix + id);
      return value === null ? undefined : JSON.parse(value);
    },
    cleanup: async () => {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await client.del(keys);
      }
      await client.quit();
    },
  };
}

/** connect-pg-simple with its table in a fresh schema; the reason when PostgreSQL is absent. */
export async function connectPg(): Promise<(LegacyFixture & { pool: pg.Pool }) | string> {
  const reason = await pgSkipReason();
  if (reason) return reason;
  const pool = testPool(undefined, { max: 8 });
  const schema = `sst_cps_${randomBytes(6).toString('hex')}`;
  await pool.query(`CREATE SCHEMA ${schema}`);
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool,
    schemaName: schema,
    createTableIfMissing: true,
    pruneSessionInterval: false,
    errorLog: () => {},
  }) as unknown as ExpressStoreLike;
  return {
    store,
    pool,
    raw: async (id) => {
      const { rows } = await pool.query(`SELECT sess FROM ${schema}.session WHERE sid = $1`, [id]);
      return rows[0]?.sess;
    },
    cleanup: async () => {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
      await pool.end();
    },
  };
}
