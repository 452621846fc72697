/**
 * PostgresStore: durable sessions in the PostgreSQL database an app already runs.
 *
 * One row per session (native-layout.ts, or connect-pg-simple's table: connect-pg-simple.ts).
 * Every operation is one named prepared statement — one round trip once a connection has
 * prepared it — so `create` is insert-if-absent, `update` a key-level merge and `touch` an
 * expiry move, each atomic and none able to bring back a destroyed session. Every query is
 * bounded (pool.ts); cleanup deletes in batches under an advisory lock (cleanup.ts).
 *
 * Concurrent creates share one statement (create-batch.ts).
 *
 * This file is the contract and its scheduling; the pool, the table's creation and query
 * retries are in connection.ts, the SQL in the layouts, the user-index tier in user-index.ts.
 */
import { NotSupportedError, reportBackgroundError } from '../../errors.js';
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
import { PostgresConnection } from './connection.js';
import { CreateBatcher } from './create-batch.js';
import type { Layout } from './layout.js';
import { nativeLayout } from './native-layout.js';
import { type PostgresStoreOptions, resolvePostgresOptions } from './options.js';
import { toStoreError } from './pool.js';
import { parseTableName } from './table.js';
import { PostgresUserIndex } from './user-index.js';

export type { PostgresStoreOptions } from './options.js';
export type { PgPoolClientLike, PgPoolLike, PgQueryConfig, PgQueryResult } from './pool.js';

/** A PostgreSQL-backed {@link SessionStore}. */
export class PostgresStore implements SessionStore, UserIndexStore {
  /** The table, as given (or the default). */
  readonly table: string;
  readonly layout: 'native' | 'connect-pg-simple';
  readonly ttl: number;
  readonly cleanupInterval: number;
  readonly statementTimeout: number;
  readonly #db: PostgresConnection;
  readonly #sql: Layout;
  /** Coalesces concurrent creates into one statement, when the layout can. */
  readonly #creates: CreateBatcher | undefined;
  #batchSize: number;
  #pageSize: number;
  #onError: BackgroundErrorHandler | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
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
    const db = new PostgresConnection({
      pool: o.pool,
      connectionString: o.connectionString,
      layout: this.#sql,
      createTable: o.createTable,
      statementTimeout: o.statementTimeout,
      onError: o.onError,
    });
    this.#db = db;
    const many = this.#sql.createMany;
    this.#creates = many
      ? new CreateBatcher({
          single: this.#sql.create,
          many,
          run: (config, timeoutMs) => db.run(config, true, timeoutMs),
          timeoutMs: db.timeoutMs,
        })
      : undefined;
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
          query: (stmt, values, write) => db.query(stmt, values, write),
          pool: () => db.ready(),
          timeoutMs: db.timeoutMs,
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

  /** The live session; a bound one carries its user's epoch, read in the same statement. */
  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    const now = Date.now();
    const users = this.#users;
    const result = await this.#db.query(users?.load ?? this.#sql.get, [id, now], false);
    const row = result.rows[0];
    if (!row) return undefined;
    const record = this.#decode(row, now);
    if (record && users) users.attachEpoch(row, record);
    return record;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const createdAt = checkTime(record?.createdAt, 'createdAt');
    const expiresAt = this.#clamp(checkTime(record.expiresAt, 'expiresAt'), now);
    const values = this.#sql.createValues(id, { data: record.data, createdAt, expiresAt }, now);
    if (this.#creates) return this.#creates.create(id, values);
    return (await this.#db.query(this.#sql.create, values, true)).rowCount === 1;
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const e = this.#clamp(checkTime(expiresAt, 'expiresAt'), now);
    const values = this.#sql.updateValues(id, changes, e, now);
    return (await this.#db.query(this.#sql.update, values, true)).rowCount === 1;
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
      return (await this.#db.query(this.#sql.touch, values, true)).rowCount === 1;
    }
    values.push(Math.floor(minExtension));
    const { rows } = await this.#db.query(this.#sql.touchAtLeast, values, true);
    return rows[0]?.n === 1;
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    await this.#db.query(this.#sql.destroy, [id], true);
  }

  /** Live sessions in id order, one page of `pageSize` rows per query (keyset paging). */
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    let after = '';
    for (;;) {
      const now = Date.now();
      const { rows } = await this.#db.query(this.#sql.page, [after, now, this.#pageSize], false);
      for (const row of rows) {
        // A text (or varchar) primary key: never null.
        const id = row.id as string;
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
    const { rows } = await this.#db.query(this.#sql.count, [Date.now()], false);
    return Number(rows[0]!.n);
  }

  /** Deletes every row of this store's table (and nothing else). */
  async clear(): Promise<void> {
    await this.#db.query(this.#sql.clear, [], true);
  }

  /**
   * Starts the cleanup timer (every `cleanupInterval` ms, `unref()`'d; started at construction
   * unless `cleanupInterval` is 0). Sweep errors go to `onError`.
   */
  startCleanup(): void {
    if (this.#db.closed) return;
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
      const pool = await this.#db.ready();
      try {
        return await sweepExpired({
          pool,
          layout: this.#sql,
          batchSize: this.#batchSize,
          timeoutMs: this.#db.timeoutMs,
          stopped: () => this.#db.closed,
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
    if (this.#db.closed) return;
    this.stopCleanup();
    await this.#db.close(this.#sweeping);
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
