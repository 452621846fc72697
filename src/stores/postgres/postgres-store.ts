/**
 * PostgresStore: durable sessions in the PostgreSQL database an app already runs.
 *
 * One row per session (native-layout.ts, or connect-pg-simple's table: connect-pg-simple.ts).
 * Every operation is one named prepared statement — one round trip once a connection has
 * prepared it — so `create` is insert-if-absent, `update` a key-level merge and `touch` an
 * expiry move, each atomic and none able to bring back a destroyed session. Every query is
 * bounded (pool.ts); cleanup deletes in batches under an advisory lock (cleanup.ts).
 *
 * Longer than most files because it is the store's whole public surface in one class — the
 * contract, cleanup, the user-index tier and the pool's lifecycle; the SQL, the codec, query
 * bounding and the user-index statements live in the files beside it.
 */
import { NotSupportedError, reportBackgroundError, StoreClosedError } from '../../errors.js';
import { assertValidSessionId, isValidSessionId } from '../../id.js';
import type {
  BackgroundErrorHandler,
  CreateForUserResult,
  SessionChanges,
  SessionRecord,
  SessionStore,
  StoreCapabilities,
  UserIndexStore,
  UserSessionLimit,
} from '../../types.js';
import { sweepExpired } from './cleanup.js';
import { checkTime } from './codec.js';
import { connectPgSimpleLayout } from './connect-pg-simple.js';
import type { Layout, Statement } from './layout.js';
import { nativeLayout } from './native-layout.js';
import { type PostgresStoreOptions, resolvePostgresOptions } from './options.js';
import {
  isRetryable,
  openOwnedPool,
  type PgPoolLike,
  type PgQueryResult,
  runQuery,
  toStoreError,
} from './pool.js';
import { parseTableName } from './table.js';
import { PostgresUserIndex } from './user-index.js';

export type { PostgresStoreOptions } from './options.js';
export type { PgPoolClientLike, PgPoolLike, PgQueryConfig, PgQueryResult } from './pool.js';

/** Client-side margin over `statementTimeout`, so the server's own cancel normally comes first. */
const CLIENT_MARGIN_MS = 500;

/** A PostgreSQL-backed {@link SessionStore}. */
export class PostgresStore implements SessionStore, UserIndexStore {
  /** The table, as given (or the default). */
  readonly table: string;
  readonly layout: 'native' | 'connect-pg-simple';
  readonly ttl: number;
  readonly cleanupInterval: number;
  readonly statementTimeout: number;
  #pool: PgPoolLike | undefined;
  #owned: Promise<PgPoolLike & { end(): Promise<void> }> | undefined;
  #connectionString: string | undefined;
  #sql: Layout;
  #createTable: boolean;
  #tableReady: Promise<void> | undefined;
  /** True once the table is known to exist: the hot path then skips {@link #ready}. */
  #tableOk = false;
  #timeout: number;
  #batchSize: number;
  #pageSize: number;
  #onError: BackgroundErrorHandler | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  #poolDown = false;
  #closed = false;
  /** The user index; connect-pg-simple's table has no user column, so none there. */
  readonly #users: PostgresUserIndex | undefined;
  /** Every guarantee; the user index only with the native layout. */
  readonly capabilities: StoreCapabilities;

  constructor(options: PostgresStoreOptions) {
    const o = resolvePostgresOptions(options);
    const table = parseTableName(o.table, o.layout);
    this.table = table.name;
    this.layout = o.layout;
    this.ttl = o.ttl;
    this.cleanupInterval = o.cleanupInterval;
    this.statementTimeout = o.statementTimeout;
    this.#sql =
      o.layout === 'native'
        ? nativeLayout(table)
        : connectPgSimpleLayout(table, Math.floor(o.ttl * 1000));
    this.#pool = o.pool;
    this.#connectionString = o.connectionString;
    this.#createTable = o.createTable;
    this.#timeout = o.statementTimeout + CLIENT_MARGIN_MS;
    const native = o.layout === 'native';
    this.capabilities = {
      atomicCreate: true,
      keyLevelUpdate: true,
      noResurrection: true,
      streamingAll: true,
      userIndex: native,
    };
    this.#users = native
      ? new PostgresUserIndex({
          table,
          query: (stmt, values, write) => this.#query(stmt, values, write),
          pool: () => this.#ready(),
          timeoutMs: this.#timeout,
          createTable: o.createTable,
          clamp: (expiresAt, now) => this.#clamp(expiresAt, now),
          lifetimeMs: Math.floor(o.ttl * 1000),
          decode: (row, now) => this.#decode(row, now),
        })
      : undefined;
    this.#batchSize = o.cleanupBatchSize;
    this.#pageSize = o.pageSize;
    this.#onError = o.onError;
    if (this.cleanupInterval > 0) this.startCleanup();
  }

  /** The SQL that creates this store's table and indexes (what `createTable` runs). */
  get createTableSql(): string {
    return this.#sql.createSql;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    const now = Date.now();
    const result = await this.#query(this.#sql.get, [id, now], false);
    const row = result.rows[0];
    return row ? this.#decode(row, now) : undefined;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const createdAt = checkTime(record?.createdAt, 'createdAt');
    const expiresAt = this.#clamp(checkTime(record.expiresAt, 'expiresAt'), now);
    const values = this.#sql.createValues(id, { data: record.data, createdAt, expiresAt }, now);
    return (await this.#query(this.#sql.create, values, true)).rowCount === 1;
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const e = this.#clamp(checkTime(expiresAt, 'expiresAt'), now);
    const values = this.#sql.updateValues(id, changes, e, now);
    return (await this.#query(this.#sql.update, values, true)).rowCount === 1;
  }

  /**
   * Moves the expiry. With `minExtension` (ms) the row is written only when that moves it by at
   * least that much — another process may have renewed it already — and a live session still
   * resolves `true`: read-only traffic then costs no new row version on every request.
   */
  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const e = this.#clamp(checkTime(expiresAt, 'expiresAt'), now);
    const values = this.#sql.touchValues(id, e, now);
    if (minExtension === undefined || !(minExtension > 0)) {
      return (await this.#query(this.#sql.touch, values, true)).rowCount === 1;
    }
    values.push(Math.floor(minExtension));
    const { rows } = await this.#query(this.#sql.touchAtLeast, values, true);
    return rows[0]?.n === 1;
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    await this.#query(this.#sql.destroy, [id], true);
  }

  /** Live sessions in id order, one page of `pageSize` rows per query (keyset paging). */
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    let after = '';
    for (;;) {
      const now = Date.now();
      const { rows } = await this.#query(this.#sql.page, [after, now, this.#pageSize], false);
      for (const row of rows) {
        const id = row.id;
        if (typeof id !== 'string') continue;
        after = id;
        // Rows written by other programs under ids this library would never issue are skipped.
        if (!isValidSessionId(id)) continue;
        const record = this.#decode(row, now);
        if (record) yield [id, record];
      }
      if (rows.length < this.#pageSize) return;
    }
  }

  /** The number of live sessions (one `count(*)` over the expiry index). */
  async length(): Promise<number> {
    const { rows } = await this.#query(this.#sql.count, [Date.now()], false);
    return Number(rows[0]?.n ?? 0);
  }

  /** Deletes every row of this store's table (and nothing else). */
  async clear(): Promise<void> {
    await this.#query(this.#sql.clear, [], true);
  }

  /**
   * Starts the cleanup timer (every `cleanupInterval` ms, `unref()`'d; started at construction
   * unless `cleanupInterval` is 0). Sweep errors go to `onError`.
   */
  startCleanup(): void {
    if (this.#closed) return;
    this.stopCleanup();
    const every = this.cleanupInterval > 0 ? this.cleanupInterval : 600_000;
    this.#timer = setInterval(() => {
      this.cleanup().catch((error: unknown) => reportBackgroundError(this.#onError, error));
    }, every);
    this.#timer.unref();
  }

  /** Stops the cleanup timer. */
  stopCleanup(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Deletes expired rows now, in batches of `cleanupBatchSize`; resolves how many. Resolves 0
   * when another instance is sweeping this table. A call during a sweep joins that sweep.
   */
  cleanup(): Promise<number> {
    if (this.#sweeping) return this.#sweeping;
    const sweeping = (async () => {
      const pool = await this.#ready();
      try {
        return await sweepExpired({
          pool,
          layout: this.#sql,
          batchSize: this.#batchSize,
          timeoutMs: this.#timeout,
          stopped: () => this.#closed,
        });
      } catch (error) {
        throw toStoreError(error, true, this.table);
      }
    })();
    this.#sweeping = sweeping;
    const done = () => {
      if (this.#sweeping === sweeping) this.#sweeping = undefined;
    };
    sweeping.then(done, done);
    return sweeping;
  }

  /** Stops the timer; ends the pool if the store created it. The application's pool stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopCleanup();
    await this.#sweeping?.catch(() => undefined);
    this.#pool = undefined;
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned) await (await owned.catch(() => undefined))?.end();
  }

  async createForUser(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    assertValidSessionId(id);
    return this.#userIndex().create(id, record, userId, limit);
  }

  async listUser(userId: string): Promise<[string, SessionRecord][]> {
    return this.#userIndex().list(userId);
  }

  async destroyUser(userId: string, exceptId?: string): Promise<number> {
    return this.#userIndex().destroy(userId, exceptId);
  }

  async userEpoch(userId: string): Promise<number> {
    return this.#userIndex().epoch(userId);
  }

  async raiseUserEpoch(userId: string, atLeast: number): Promise<number> {
    return this.#userIndex().raiseEpoch(userId, atLeast);
  }

  #userIndex(): PostgresUserIndex {
    if (this.#users) return this.#users;
    throw new NotSupportedError(
      "the user index needs PostgresStore's own table (layout 'native'): connect-pg-simple's table has no user_id column",
    );
  }

  /** Runs one statement, retried once on a fresh connection when the link broke. */
  async #query(stmt: Statement, values: unknown[], write: boolean): Promise<PgQueryResult> {
    const pool =
      this.#pool !== undefined && this.#tableOk && !this.#closed ? this.#pool : await this.#ready();
    const config = { name: stmt.name, text: stmt.text, values };
    const started = Date.now();
    try {
      const result = await runQuery(pool, config, this.#timeout);
      this.#poolDown = false;
      return result;
    } catch (error) {
      const remaining = this.#timeout - (Date.now() - started);
      if (!isRetryable(error) || remaining < 50 || this.#closed) {
        throw toStoreError(error, write, this.table);
      }
      try {
        return await runQuery(pool, config, remaining);
      } catch (retryError) {
        throw toStoreError(retryError, write, this.table);
      }
    }
  }

  /** The pool, opened on first use for a `connectionString`, with the table ensured. */
  async #ready(): Promise<PgPoolLike> {
    if (this.#closed) throw new StoreClosedError();
    const pool = this.#pool ?? (await this.#open());
    if (this.#createTable) {
      this.#tableReady ??= this.#ensureTable(pool);
      await this.#tableReady;
    }
    this.#tableOk = true;
    return pool;
  }

  async #open(): Promise<PgPoolLike> {
    if (this.#connectionString === undefined) throw new StoreClosedError();
    if (!this.#owned) {
      const owned = openOwnedPool(this.#connectionString, this.statementTimeout, (error) => {
        if (this.#poolDown) return;
        this.#poolDown = true;
        reportBackgroundError(this.#onError, error);
      });
      this.#owned = owned;
      owned.catch(() => {
        if (this.#owned === owned) this.#owned = undefined;
      });
    }
    const pool = await this.#owned;
    if (this.#closed) throw new StoreClosedError();
    this.#pool = pool;
    return pool;
  }

  /**
   * Creates the table when it is missing. Checking first means an existing table costs one
   * catalog lookup and takes no lock; creation runs under a transaction-level advisory lock, so
   * instances starting together create it once. A failure is retried on the next call.
   */
  #ensureTable(pool: PgPoolLike): Promise<void> {
    const attempt = (async () => {
      const table = this.#sql.table;
      try {
        const found = await runQuery(
          pool,
          { text: 'SELECT to_regclass($1) IS NOT NULL AS found', values: [table.sql] },
          this.#timeout,
        );
        if (found.rows[0]?.found === true) return;
        // One simple-protocol query: its statements run in one implicit transaction, which the
        // xact lock spans. The text holds only the quoted table name and a numeric key.
        await runQuery(
          pool,
          { text: `SELECT pg_advisory_xact_lock(${table.lockKey});\n${this.#sql.createSql}` },
          this.#timeout,
        );
      } catch (error) {
        throw toStoreError(error, true, this.table);
      }
    })();
    attempt.catch(() => {
      if (this.#tableReady === attempt) this.#tableReady = undefined;
    });
    return attempt;
  }

  #clamp(expiresAt: number, now: number): number {
    return Math.min(expiresAt, now + Math.floor(this.ttl * 1000));
  }

  #decode(row: Record<string, unknown>, now: number): SessionRecord | undefined {
    const decoded = this.#sql.decode(row, now);
    if (typeof decoded !== 'string') return decoded;
    reportBackgroundError(
      this.#onError,
      new Error(`PostgresStore: a row of ${this.table} ${decoded}; read as no session`),
    );
    return undefined;
  }
}
