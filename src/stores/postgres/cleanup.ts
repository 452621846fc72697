/**
 * One cleanup sweep of a PostgresStore table: expired rows are deleted in batches of at most
 * `batchSize` (`DELETE … WHERE id IN (SELECT … LIMIT n)`), so no statement holds many row locks
 * or runs long, and the event loop only ever handles row counts. With several app instances on
 * one table only one sweeps at a time: the sweep holds a session-level advisory lock keyed by
 * the table for its duration (`pg_try_advisory_lock`; an instance that doesn't get it skips
 * this round) and releases it at the end — or drops the connection, which releases it too.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Layout } from './layout.js';
import {
  acquire,
  hold,
  isConnectionFailure,
  type PgPoolClientLike,
  type PgPoolLike,
  type PgQueryConfig,
} from './pool.js';

export interface SweepOptions {
  pool: PgPoolLike;
  layout: Layout;
  batchSize: number;
  /** Bound on each statement (and on getting the connection), ms. */
  timeoutMs: number;
  /** Stops between batches when it returns true (the store was closed). */
  stopped(): boolean;
}

/** Resolves the number of rows deleted (0 when another instance holds the lock). */
export async function sweepExpired(options: SweepOptions): Promise<number> {
  const { pool, layout, batchSize, timeoutMs } = options;
  const held = hold(await acquire(pool, timeoutMs));
  const run = (config: PgQueryConfig) => held.client.query({ ...config, query_timeout: timeoutMs });
  try {
    const locked = await run({
      text: 'SELECT pg_try_advisory_lock($1::bigint) AS ok',
      values: [layout.table.lockKey],
    });
    if (locked.rows[0]?.ok !== true) return 0;
    try {
      return await deleteBatches(run, layout, batchSize, options.stopped);
    } finally {
      // On failure, dropping the connection releases the lock on the server.
      await run({
        text: 'SELECT pg_advisory_unlock($1::bigint)',
        values: [layout.table.lockKey],
      }).catch(held.markBroken);
    }
  } catch (error) {
    if (isConnectionFailure(error)) held.markBroken();
    throw error;
  } finally {
    held.release();
  }
}

async function deleteBatches(
  run: (config: PgQueryConfig) => ReturnType<PgPoolClientLike['query']>,
  layout: Layout,
  batchSize: number,
  stopped: () => boolean,
): Promise<number> {
  const now = Date.now();
  let removed = 0;
  for (;;) {
    const result = await run({ ...layout.sweep, values: [now, batchSize] });
    const n = result.rowCount ?? 0;
    removed += n;
    if (n < batchSize || stopped()) return removed;
    await yieldToEventLoop();
  }
}
