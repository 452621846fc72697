/**
 * The session-store-js stores the express-session tests run on: MemoryStore, FileStore in a
 * temp directory, RedisStore on the shared Redis under a random prefix, PostgresStore on the
 * shared PostgreSQL in a random table (each skipped, with the reason, when its server does not
 * answer).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import {
  FileStore,
  MemoryStore,
  PostgresStore,
  RedisStore,
  type SessionStore,
} from '../../src/index.js';
import { dropTable, pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';
import { REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';

/** A store under test, and how to make another instance on the same data (a restart). */
export interface StoreKit {
  store: SessionStore;
  /** A second store instance over the same data (same directory, same Redis prefix). */
  reopen(): Promise<SessionStore>;
  /** Makes every later store call fail (closed store, directory gone, connection closed). */
  break(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface StoreFactory {
  name: 'memory' | 'file' | 'redis' | 'postgres';
  skip: string | undefined;
  make(): Promise<StoreKit>;
}

const redisSkip = await redisSkipReason();
const pgSkip = await pgSkipReason();

export const STORES: StoreFactory[] = [
  {
    name: 'memory',
    skip: undefined,
    async make() {
      const store = new MemoryStore();
      return {
        store,
        reopen: async () => store,
        break: () => store.close(),
        cleanup: () => store.close(),
      };
    },
  },
  {
    name: 'file',
    skip: undefined,
    async make() {
      const dir = await mkdtemp(join(tmpdir(), 'ssjs-es-'));
      const path = join(dir, 'sessions');
      const opened: FileStore[] = [new FileStore({ path })];
      return {
        store: opened[0]!,
        async reopen() {
          const again = new FileStore({ path });
          opened.push(again);
          return again;
        },
        async break() {
          await rm(path, { recursive: true, force: true });
          await writeFile(path, 'not a directory');
        },
        async cleanup() {
          await Promise.all(opened.map((s) => s.close()));
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'redis',
    skip: redisSkip,
    async make() {
      const prefix = randomPrefix('es');
      const clients: ReturnType<typeof createClient>[] = [];
      const stores: RedisStore[] = [];
      const open = async () => {
        const client = createClient({ url: REDIS_URL });
        client.on('error', () => {});
        await client.connect();
        clients.push(client);
        const store = new RedisStore({ client, prefix });
        stores.push(store);
        return store;
      };
      const store = await open();
      return {
        store,
        reopen: open,
        async break() {
          await clients[0]!.quit();
        },
        async cleanup() {
          if (clients[0]!.isOpen) await store.clear();
          await Promise.all(stores.map((s) => s.close()));
          await Promise.all(clients.filter((c) => c.isOpen).map((c) => c.quit()));
        },
      };
    },
  },
  {
    name: 'postgres',
    skip: pgSkip,
    async make() {
      const table = randomTable('es');
      const pools = [testPool()];
      const stores = [new PostgresStore({ pool: pools[0]!, table })];
      return {
        store: stores[0]!,
        async reopen() {
          const pool = testPool();
          pools.push(pool);
          const store = new PostgresStore({ pool, table });
          stores.push(store);
          return store;
        },
        async break() {
          await pools[0]!.end();
        },
        async cleanup() {
          await Promise.all(stores.map((s) => s.close().catch(() => {})));
          const admin = testPool();
          await dropTable(admin, table);
          await Promise.all([admin, ...pools].map((p) => p.end().catch(() => {})));
        },
      };
    },
  },
];
