/**
 * PostgresStore's user index on the shared PostgreSQL: the tier's compliance suite (queries
 * counted on the pool), the HTTP suite, and what is specific to PostgreSQL: the `user_id` column,
 * the epochs table beside the sessions table, and connect-pg-simple's table refusing the tier.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotSupportedError, SessionManager } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { dropTable, pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';
import { describeUserIndex } from './user-index-compliance.js';
import { describeUserSessionsHttp } from './user-sessions-http.js';

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
