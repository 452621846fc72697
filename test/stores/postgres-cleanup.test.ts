/**
 * PostgresStore cleanup on the machine's PostgreSQL: 100,000 rows with 10 % expired are swept in
 * batches without blocking the event loop, only expired rows go, one instance sweeps at a time
 * (advisory lock), and the timer sweeps by itself and stops on close().
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { generateSessionId } from '../../src/id.js';
import type { PgPoolLike, PgQueryConfig } from '../../src/stores/postgres/pool.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { parseTableName } from '../../src/stores/postgres/table.js';
import { dropTable, pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';

const HOUR = 3_600_000;
const skip = await pgSkipReason();

/** Inserts `live` live and `expired` expired rows server-side (ids are valid session ids). */
async function fill(pool: pg.Pool, table: string, live: number, expired: number): Promise<void> {
  const now = Date.now();
  await pool.query(
    `INSERT INTO "${table}" (id, data, created_at, expires_at)
     SELECT 'sst' || lpad(n::text, 24, '0'), jsonb_build_object('n', n), $1::bigint,
            CASE WHEN n % 10 = 0 THEN $1::bigint - 1000 ELSE $1::bigint + $2::bigint END
     FROM generate_series(1, $3::int) AS n`,
    [now, HOUR, live + expired],
  );
  assert.equal(expired * 9, live, 'the fill pattern is one expired row in ten');
}

describe('PostgresStore cleanup', { skip, timeout: 180_000 }, () => {
  let pool: pg.Pool;
  const tables: string[] = [];

  before(() => {
    pool = testPool();
  });
  after(async () => {
    for (const table of tables) await dropTable(pool, table);
    await pool.end();
  });

  async function storeOn(options: { cleanupInterval?: number; cleanupBatchSize?: number } = {}) {
    const table = randomTable('cleanup');
    tables.push(table);
    const store = new PostgresStore({ pool, table, cleanupInterval: 0, ...options });
    await store.length();
    return { table, store };
  }

  it('sweeps 10,000 expired of 100,000 rows in batches, keeping the event loop under 20 ms', async (t) => {
    // Another process taking this core can spoil one measurement; a sweep that blocks the event
    // loop spoils every one. So up to three attempts, each on a table of its own, and every
    // attempt must sweep exactly the expired rows.
    const spoiled: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const { table, store } = await storeOn({ cleanupBatchSize: 1000 });
      await fill(pool, table, 90_000, 10_000);
      // What the machine alone costs: the same measurement over a second of waiting on queries.
      const idle = monitorEventLoopDelay({ resolution: 1 });
      idle.enable();
      const until = Date.now() + 1000;
      while (Date.now() < until) await pool.query('SELECT pg_sleep(0.05)');
      idle.disable();
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const removed = await store.cleanup();
      delay.disable();
      assert.equal(removed, 10_000);
      const left = await pool.query(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE expires_at <= $1)::int AS expired FROM "${table}"`,
        [Date.now()],
      );
      assert.deepEqual(left.rows[0], { total: 90_000, expired: 0 });
      assert.equal(await store.length(), 90_000);
      assert.equal(await store.cleanup(), 0, 'nothing left to sweep');
      await store.close();
      const ms = (h: typeof delay, p: number) => h.percentile(p) / 1e6;
      const seen = `p99 ${ms(delay, 99).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms; idle machine p99 ${ms(idle, 99).toFixed(1)} ms`;
      t.diagnostic(`attempt ${attempt}: event-loop delay during the sweep: ${seen}`);
      // The sweep only ever handles row counts, so it adds no blocking of its own: its delays
      // stay within 20 ms of what the (shared, loaded) machine causes anyway. p99, not max: one
      // pause of another process on the core is not the sweep blocking.
      if (ms(delay, 99) < 20 + ms(idle, 99)) return;
      spoiled.push(seen);
    }
    assert.fail(
      `the sweep delayed the event loop by more than 20 ms (p99) every time: ${spoiled.join('; ')}`,
    );
  });

  it('deletes in bounded statements: each DELETE removes at most cleanupBatchSize rows', async () => {
    const table = randomTable('cleanup');
    tables.push(table);
    const deletes: number[] = [];
    const spy: PgPoolLike = {
      async connect() {
        const client = await pool.connect();
        return {
          async query(config: PgQueryConfig) {
            const result = await client.query(config);
            if (config.name?.endsWith('_sweep')) deletes.push(result.rowCount ?? 0);
            return result;
          },
          release: (error?: Error | boolean) => client.release(error),
        };
      },
    };
    const store = new PostgresStore({
      pool: spy,
      table,
      cleanupInterval: 0,
      cleanupBatchSize: 250,
    });
    await store.length();
    await fill(pool, table, 9_000, 1_000);
    assert.equal(await store.cleanup(), 1_000);
    assert.deepEqual(deletes, [250, 250, 250, 250, 0]);
    assert.equal(await store.length(), 9_000);
    await store.close();
  });

  it("one instance sweeps at a time: while another holds the table's lock, cleanup() is a no-op", async () => {
    const { table, store } = await storeOn();
    await fill(pool, table, 90, 10);
    const key = parseTableName(table, 'native').lockKey;
    const holder = await pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [key]);
      assert.equal(await store.cleanup(), 0, 'skipped: another instance holds the sweep lock');
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n, 100);
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    } finally {
      holder.release();
    }
    // Two instances sweeping together delete every expired row exactly once.
    const other = new PostgresStore({ pool, table, cleanupInterval: 0 });
    const [a, b] = await Promise.all([store.cleanup(), other.cleanup()]);
    assert.equal(a + b, 10);
    // The lock is released after a sweep: nobody holds it now.
    const held = await pool.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = ($1::bigint & 4294967295)::oid`,
      [key],
    );
    assert.equal(held.rows[0].n, 0);
    await other.close();
    await store.close();
  });

  it('a cleanup() called during a sweep joins it: one sweep, one count', async () => {
    const { table, store } = await storeOn({ cleanupBatchSize: 10 });
    await fill(pool, table, 90, 10);
    const first = store.cleanup();
    const second = store.cleanup();
    assert.equal(second, first);
    assert.equal(await first, 10);
    assert.equal(await store.cleanup(), 0, 'a later call sweeps again, finding nothing');
    await store.close();
  });

  it('the timer sweeps by itself, and stops on close()', async () => {
    const { table, store } = await storeOn({ cleanupInterval: 1000 });
    const id = generateSessionId();
    await store.create(id, {
      data: Object.create(null),
      createdAt: Date.now(),
      expiresAt: Date.now() + 50,
    });
    await sleep(2500);
    const count = async () =>
      (await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n as number;
    assert.equal(await count(), 0, 'the expired row was swept by the timer');
    await store.close();
    const now = Date.now();
    await pool.query(
      `INSERT INTO "${table}" (id, data, created_at, expires_at) VALUES ($1, '{}', $2, $2)`,
      [generateSessionId(), now - 10],
    );
    await sleep(1500);
    assert.equal(await count(), 1, 'no sweep after close()');
  });
});
