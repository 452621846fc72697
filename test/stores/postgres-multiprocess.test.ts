/**
 * The two-process suite (processes.ts) on one PostgreSQL database: two apps with
 * `storeType: 'postgres'` on one random table share sessions over real HTTP.
 */
import { resolve } from 'node:path';
import {
  DATABASE_URL,
  dropTable,
  pgSkipReason,
  randomTable,
  testPool,
} from '../helpers/postgres.js';
import { describeTwoProcesses } from './processes.js';

describeTwoProcesses('PostgreSQL database', await pgSkipReason(), async () => {
  const table = randomTable('multi');
  const pool = testPool();
  return {
    fixture: resolve(import.meta.dirname, '../fixtures/postgres-app.ts'),
    env: { DATABASE_URL, TABLE: table },
    async exists(id) {
      const { rowCount } = await pool.query(`SELECT 1 FROM "${table}" WHERE id = $1`, [id]);
      return rowCount === 1;
    },
    async cleanup() {
      await dropTable(pool, table);
      await pool.end();
    },
  };
});
