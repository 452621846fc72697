/**
 * PostgresStore's user index (native layout): the `user_id` column of the sessions table, with
 * its partial index, names a bound session's user; listing and revoking are one indexed query
 * each, and the row is the truth (its data's binding must name the user). Epochs live in a small
 * table beside it, `<table>_user_epochs (user_id, epoch, expires_at)`, created on first use like
 * the sessions table; an epoch row expires a store `ttl` (plus a margin) after its last raise,
 * after which no session bound before that raise can still be alive.
 *
 * A login under `maxSessionsPerUser` runs in one transaction holding a per-user advisory lock,
 * so concurrent logins of one user (in any number of processes) count and evict one at a time.
 *
 * Once the epochs table is known to exist, the store's `get` reads the bound user's epoch in the
 * same statement as the row ({@link PostgresUserIndex.load}): one snapshot, so the check is as
 * strict as a separate read right after it, and a signed-in request costs no extra round trip.
 */
import { boundUserOf } from '../../data.js';
import type { CreateForUserResult, SessionRecord, UserSessionLimit } from '../../types.js';
import { encodeObject } from './codec.js';
import { type Statement, statement } from './layout.js';
import {
  acquire,
  hold,
  isConnectionFailure,
  type PgPoolLike,
  type PgQueryResult,
  runQuery,
  toStoreError,
} from './pool.js';
import { indexName, type TableName } from './table.js';

/** What the index needs from its PostgresStore. */
export interface PostgresIndexContext {
  readonly table: TableName;
  /** Runs a statement on the store's pool (retried and bounded like the store's own). */
  query(stmt: Statement, values: unknown[], write: boolean): Promise<PgQueryResult>;
  /** The pool, with the sessions table ensured. */
  pool(): Promise<PgPoolLike>;
  readonly timeoutMs: number;
  readonly createTable: boolean;
  /** `expiresAt` clamped to the store's `ttl`. */
  clamp(expiresAt: number, now: number): number;
  /** Longest a session can live after its last renewal, in ms. */
  readonly lifetimeMs: number;
  decode(row: Record<string, unknown>, now: number): SessionRecord | undefined;
}

/** Margin an epoch outlives the longest session by: requests in flight at the raise. */
const EPOCH_MARGIN_MS = 60_000;

export class PostgresUserIndex {
  readonly #ctx: PostgresIndexContext;
  readonly #epochs: string;
  readonly #sql: Record<
    'create' | 'list' | 'destroy' | 'epoch' | 'raise' | 'live' | 'load',
    Statement
  >;
  #epochTable: Promise<void> | undefined;
  /** The epochs table has answered a query: `get` may join it from now on. */
  #epochsKnown = false;

  constructor(context: PostgresIndexContext) {
    this.#ctx = context;
    const table = context.table;
    const t = table.sql;
    const epochs = `${table.schema ? `"${table.schema}".` : ''}${indexName(table, 'user_epochs')}`;
    this.#epochs = epochs;
    this.#sql = {
      create: statement(
        table,
        'u_create',
        `INSERT INTO ${t} AS s (id, data, created_at, expires_at, user_id) VALUES ($1, $2::jsonb, $3, $4, $6)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at,
  expires_at = EXCLUDED.expires_at, user_id = EXCLUDED.user_id
WHERE s.expires_at <= $5`,
      ),
      list: statement(
        table,
        'u_list',
        `SELECT id, data::text AS d, created_at AS c, expires_at AS e FROM ${t}
WHERE user_id = $1 AND expires_at > $2`,
      ),
      live: statement(
        table,
        'u_live',
        `SELECT id FROM ${t} WHERE user_id = $1 AND expires_at > $2 ORDER BY expires_at, created_at`,
      ),
      destroy: statement(
        table,
        'u_destroy',
        `DELETE FROM ${t} WHERE user_id = $1 AND id IS DISTINCT FROM $2 RETURNING expires_at > $3 AS live`,
      ),
      load: statement(
        table,
        'u_load',
        `SELECT s.data::text AS d, s.created_at AS c, s.expires_at AS e, s.user_id AS u,
  (SELECT x.epoch FROM ${epochs} x WHERE x.user_id = s.user_id AND x.expires_at > $2) AS ep
FROM ${t} s WHERE s.id = $1 AND s.expires_at > $2`,
      ),
      epoch: statement(
        table,
        'u_epoch',
        `SELECT epoch FROM ${epochs} WHERE user_id = $1 AND expires_at > $2`,
      ),
      raise: statement(
        table,
        'u_raise',
        `INSERT INTO ${epochs} AS x (user_id, epoch, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET epoch = CASE WHEN x.expires_at > $4
  THEN GREATEST(x.epoch, EXCLUDED.epoch) ELSE EXCLUDED.epoch END, expires_at = EXCLUDED.expires_at
RETURNING epoch`,
      ),
    };
  }

  async create(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    const ctx = this.#ctx;
    const now = Date.now();
    const values = [
      id,
      encodeObject(record.data),
      record.createdAt,
      ctx.clamp(record.expiresAt, now),
      now,
      userId,
    ];
    if (!limit) {
      const created = (await ctx.query(this.#sql.create, values, true)).rowCount === 1;
      return created ? { status: 'created', evicted: 0 } : { status: 'collision' };
    }
    return this.#transaction(async (run) => {
      await run({
        text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
        values: [`${ctx.table.tag}:${userId}`],
      });
      const live = (await run({ ...this.#sql.live, values: [userId, now] })).rows.map((r) =>
        String(r.id),
      );
      let evicted = 0;
      if (live.length >= limit.max) {
        if (limit.whenFull === 'reject') return { status: 'full' };
        const victims = live.slice(0, live.length - limit.max + 1);
        const gone = await run({
          text: `DELETE FROM ${ctx.table.sql} WHERE id = ANY($1::text[]) AND user_id = $2`,
          values: [victims, userId],
        });
        evicted = gone.rowCount ?? 0;
      }
      const created = (await run({ ...this.#sql.create, values })).rowCount === 1;
      return created ? { status: 'created', evicted } : { status: 'collision' };
    });
  }

  async list(userId: string): Promise<[string, SessionRecord][]> {
    const now = Date.now();
    const { rows } = await this.#ctx.query(this.#sql.list, [userId, now], false);
    const live: [string, SessionRecord][] = [];
    for (const row of rows) {
      const record = this.#ctx.decode(row, now);
      if (record && boundUserOf(record.data) === userId) live.push([String(row.id), record]);
    }
    return live;
  }

  async destroy(userId: string, exceptId?: string): Promise<number> {
    const values = [userId, exceptId ?? null, Date.now()];
    const { rows } = await this.#ctx.query(this.#sql.destroy, values, true);
    return rows.filter((row) => row.live === true).length;
  }

  /**
   * The store's `get` once the epochs table exists (`[id, now]`): the row as the layout's `get`
   * returns it, plus its `user_id` (`u`) and that user's live epoch (`ep`, null when none).
   */
  get load(): Statement | undefined {
    return this.#epochsKnown ? this.#sql.load : undefined;
  }

  /** Gives `record` (decoded from a {@link load} row) the epoch of the user it is bound to. */
  attachEpoch(row: Record<string, unknown>, record: SessionRecord): void {
    // The data's binding decides which user the manager checks: the epoch read must be that one's.
    if (typeof row.u !== 'string' || boundUserOf(record.data) !== row.u) return;
    record.userEpoch = row.ep === null ? 0 : Number(row.ep);
  }

  async epoch(userId: string): Promise<number> {
    await this.#ensureEpochs();
    const { rows } = await this.#ctx.query(this.#sql.epoch, [userId, Date.now()], false);
    this.#epochsKnown = true;
    return rows.length === 0 ? 0 : Number(rows[0]!.epoch);
  }

  async raiseEpoch(userId: string, atLeast: number): Promise<number> {
    await this.#ensureEpochs();
    const now = Date.now();
    const expires = now + this.#ctx.lifetimeMs + EPOCH_MARGIN_MS;
    const values = [userId, Math.floor(atLeast), expires, now];
    const { rows } = await this.#ctx.query(this.#sql.raise, values, true);
    this.#epochsKnown = true;
    return Number(rows[0]!.epoch);
  }

  /** The epochs table, created once (under the store's advisory lock) when `createTable`. */
  #ensureEpochs(): Promise<void> {
    const ctx = this.#ctx;
    if (!ctx.createTable) return Promise.resolve();
    this.#epochTable ??= (async () => {
      const pool = await ctx.pool();
      try {
        await runQuery(
          pool,
          {
            text: `SELECT pg_advisory_xact_lock(${ctx.table.lockKey});
CREATE TABLE IF NOT EXISTS ${this.#epochs} (user_id text PRIMARY KEY, epoch bigint NOT NULL, expires_at bigint NOT NULL);`,
          },
          ctx.timeoutMs,
        );
      } catch (error) {
        throw toStoreError(error, true, ctx.table.name);
      }
    })();
    const attempt = this.#epochTable;
    attempt.catch(() => {
      if (this.#epochTable === attempt) this.#epochTable = undefined;
    });
    return attempt;
  }

  /** Runs `fn` in one transaction on one connection; rolled back when it throws. */
  async #transaction<T>(
    fn: (
      run: (config: { text: string; name?: string; values?: unknown[] }) => Promise<PgQueryResult>,
    ) => Promise<T>,
  ): Promise<T> {
    const ctx = this.#ctx;
    const client = await acquire(await ctx.pool(), ctx.timeoutMs).catch((error: unknown) => {
      throw toStoreError(error, true, ctx.table.name);
    });
    // Listened to while held: a connection that drops emits `error` even mid-query.
    const held = hold(client);
    const run = (config: { text: string; name?: string; values?: unknown[] }) =>
      client.query({ ...config, query_timeout: ctx.timeoutMs });
    try {
      await run({ text: 'BEGIN' });
      const result = await fn(run);
      await run({ text: 'COMMIT' });
      return result;
    } catch (error) {
      if (isConnectionFailure(error)) {
        held.markBroken();
      } else await run({ text: 'ROLLBACK' }).catch(() => {});
      throw toStoreError(error, true, ctx.table.name);
    } finally {
      held.release();
    }
  }
}
