/**
 * PostgresStore's user index on the shared PostgreSQL: the tier's compliance suite (queries
 * counted on the pool), the HTTP suite, and what is specific to PostgreSQL: the `user_id` column,
 * the epochs table beside the sessions table, and connect-pg-simple's table refusing the tier.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import { generateSessionId } from '../../src/id.js';
import {
  NotSupportedError,
  SessionManager,
  StoreUnavailableError,
  StoreWriteError,
} from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { Client, listen } from '../helpers/http.js';
import { dropTable, pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';
import { describeUserIndex } from './user-index-compliance.js';
import { describeUserSessionsHttp, userRoutes } from './user-sessions-http.js';

const skip = await pgSkipReason();

/** A pool whose queries are counted (every statement the store runs, on any connection). */
function countingPool() {
  const pool = testPool();
  let queries = 0;
  const counted = {
    connect: async () => {
      const client = await pool.connect();
      return {
        query: (config: Parameters<typeof client.query>[0]) => {
          queries++;
          return client.query(config);
        },
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
  return { pool, counted, queries: () => queries };
}

if (skip) {
  describe('PostgresStore user index', { skip }, () => {
    it('needs PostgreSQL', () => {});
  });
} else {
  describeUserIndex(
    'PostgresStore',
    async () => {
      const { pool, counted, queries } = countingPool();
      const table = randomTable('users');
      return {
        store: new PostgresStore({ pool: counted as never, table }),
        operations: queries,
        // Once it knows the epochs table exists, the load reads the epoch in its own statement.
        epochWithRecord: 'once-known',
        async cleanup() {
          await dropTable(pool, table);
          await dropTable(pool, `${table}_user_epochs`);
          await pool.end();
        },
      };
    },
    { users: 2_000 },
  );

  describeUserSessionsHttp('PostgresStore', async () => {
    const pool = testPool();
    const table = randomTable('users_http');
    const store = new PostgresStore({ pool, table });
    return {
      store,
      indexSize: async (userId) => {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM "${table}" WHERE user_id = $1 AND expires_at > $2`,
          [userId, Date.now()],
        );
        return rows[0].n as number;
      },
      async cleanup() {
        await dropTable(pool, table);
        await dropTable(pool, `${table}_user_epochs`);
        await pool.end();
      },
    };
  });

  describe('PostgresStore user index: PostgreSQL specifics', () => {
    it("a signed-in request reads the user's epoch with its session: no extra statement, and a revocation elsewhere still ends it", async () => {
      const { pool, counted, queries } = countingPool();
      const table = randomTable('users_load');
      const secret = 'x'.repeat(32);
      const store = new PostgresStore({ pool: counted as never, table, cleanupInterval: 0 });
      // Another app process on the same database, with a store of its own.
      const other = new PostgresStore({ pool, table, cleanupInterval: 0 });
      const sm = new SessionManager({ store, secret });
      const app = express();
      app.use(sm.middleware());
      userRoutes(app, sm);
      const listening = await listen(app);
      try {
        const browser = new Client(listening.url);
        await browser.request('/login/ada', { method: 'POST' });
        assert.equal((await browser.get('/me')).json<{ user: string | null }>().user, 'ada');
        const before = queries();
        for (let i = 0; i < 3; i++)
          assert.equal((await browser.get('/me')).json<{ user: string | null }>().user, 'ada');
        // Each request: the session with the epoch in one statement, then the write.
        assert.equal(queries() - before, 3 * 2);
        await new SessionManager({ store: other, secret }).destroyUserSessions('ada');
        assert.equal(
          (await browser.get('/me')).json<{ user: string | null }>().user,
          null,
          'revoked by the other process',
        );
        // A session bound after an epoch raise carries the raised epoch and stays signed in.
        await browser.request('/login/ada', { method: 'POST' });
        assert.equal((await browser.get('/me')).json<{ user: string | null }>().user, 'ada');
        assert.ok((await other.userEpoch('ada')) > 0);
      } finally {
        await listening.close();
        await store.close();
        await other.close();
        await dropTable(pool, table);
        await dropTable(pool, `${table}_user_epochs`);
        await pool.end();
      }
    });

    it("a row whose user_id is not its data's user carries no epoch: the manager reads that user's", async () => {
      const pool = testPool();
      const table = randomTable('users_odd');
      const store = new PostgresStore({ pool, table, cleanupInterval: 0 });
      try {
        await store.raiseUserEpoch('bob', 3);
        const now = Date.now();
        const bound = (user: string) => ({
          data: Object.assign(Object.create(null), { __ssjs_user: { id: user, epoch: 3 } }),
          createdAt: now,
          expiresAt: now + 60_000,
        });
        const mine = generateSessionId();
        await store.createForUser(mine, bound('bob'), 'bob');
        assert.equal((await store.get(mine))?.userEpoch, 3);
        const odd = generateSessionId();
        await store.createForUser(odd, bound('ada'), 'bob');
        assert.equal((await store.get(odd))?.userEpoch, undefined);
        const unbound = generateSessionId();
        await store.create(unbound, { ...bound('x'), data: Object.create(null) });
        assert.equal((await store.get(unbound))?.userEpoch, undefined);
        // No live epoch row: 0, as userEpoch says.
        const fresh = generateSessionId();
        await store.createForUser(fresh, bound('cy'), 'cy');
        assert.equal((await store.get(fresh))?.userEpoch, 0);
      } finally {
        await store.close();
        await dropTable(pool, table);
        await dropTable(pool, `${table}_user_epochs`);
        await pool.end();
      }
    });

    it('a failed creation of the epochs table is a StoreUnavailableError and is retried on the next call', async () => {
      const pool = testPool();
      const table = randomTable('users_epochs_retry');
      let down = false;
      const flaky = {
        connect: () => (down ? Promise.reject(new Error('link down')) : pool.connect()),
      };
      const store = new PostgresStore({ pool: flaky, table, cleanupInterval: 0 });
      try {
        assert.equal(await store.length(), 0);
        down = true;
        await assert.rejects(store.userEpoch('ada'), StoreUnavailableError);
        down = false;
        assert.equal(await store.userEpoch('ada'), 0);
      } finally {
        await store.close();
        await dropTable(pool, table);
        await dropTable(pool, `${table}_user_epochs`);
        await pool.end();
      }
    });

    it('a capped login the database refuses is rolled back: StoreWriteError, nothing created', async () => {
      const pool = testPool();
      const table = randomTable('users_refused');
      const store = new PostgresStore({ pool, table, cleanupInterval: 0 });
      const limit = { max: 2, whenFull: 'evict-oldest' } as const;
      const record = (createdAt: number) => ({
        data: Object.assign(Object.create(null), { __ssjs_user: { id: 'ada', epoch: 0 } }),
        createdAt,
        expiresAt: Date.now() + 60_000,
      });
      try {
        const id = generateSessionId();
        // A creation time beyond bigint: the insert fails inside the login's transaction.
        await assert.rejects(store.createForUser(id, record(1e20), 'ada', limit), StoreWriteError);
        assert.equal(await store.get(id), undefined);
        assert.deepEqual(await store.listUser('ada'), []);
        // The connection went back to the pool usable: the next capped login works.
        const ok = await store.createForUser(generateSessionId(), record(Date.now()), 'ada', limit);
        assert.equal(ok.status, 'created');
        // And without a reachable pool, a capped login fails cleanly too.
        const offline = new PostgresStore({
          pool: { connect: () => Promise.reject(new Error('link down')) },
          table,
          createTable: false,
          cleanupInterval: 0,
        });
        await assert.rejects(
          offline.createForUser(generateSessionId(), record(Date.now()), 'ada', limit),
          StoreUnavailableError,
        );
        await offline.close();
      } finally {
        await store.close();
        await dropTable(pool, table);
        await dropTable(pool, `${table}_user_epochs`);
        await pool.end();
      }
    });

    it("connect-pg-simple's table refuses the tier, naming why", async () => {
      const pool = testPool();
      const table = randomTable('cps');
      const store = new PostgresStore({ pool, table, layout: 'connect-pg-simple' });
      const sm = new SessionManager({ store, secret: 'x'.repeat(32) });
      try {
        assert.equal(store.capabilities.userIndex, false);
        await assert.rejects(sm.listUserSessions('u'), NotSupportedError);
        await assert.rejects(store.listUser('u'), /layout 'native'/);
      } finally {
        await store.close();
        await dropTable(pool, table);
        await pool.end();
      }
    });
  });
}
