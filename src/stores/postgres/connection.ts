/**
 * A PostgresStore's way to its database: the pool (the application's, or one opened from a
 * `connectionString` that this owns and ends), the table ensured once before the first query,
 * and every statement run bounded and, when the link broke, retried once on a fresh connection.
 * Failures leave as the library's errors (`toStoreError`).
 */
import { reportBackgroundError, StoreClosedError } from '../../errors.js';
import type { BackgroundErrorHandler } from '../../types.js';
import type { Layout, Statement } from './layout.js';
import {
  isRetryable,
  openOwnedPool,
  type PgPoolLike,
  type PgQueryConfig,
  type PgQueryResult,
  runQuery,
  toStoreError,
} from './pool.js';

/** Client-side margin over `statementTimeout`, so the server's own cancel normally comes first. */
const CLIENT_MARGIN_MS = 500;

export interface ConnectionOptions {
  pool: PgPoolLike | undefined;
  connectionString: string | undefined;
  layout: Layout;
  createTable: boolean;
  statementTimeout: number;
  onError: BackgroundErrorHandler | undefined;
}

export class PostgresConnection {
  /** Bound on one statement, waiting for a connection included (ms). */
  readonly timeoutMs: number;
  #pool: PgPoolLike | undefined;
  #owned: Promise<PgPoolLike & { end(): Promise<void> }> | undefined;
  readonly #connectionString: string | undefined;
  readonly #layout: Layout;
  readonly #createTable: boolean;
  readonly #statementTimeout: number;
  readonly #onError: BackgroundErrorHandler | undefined;
  #tableReady: Promise<void> | undefined;
  /** True once the table is known to exist: the hot path then skips {@link ready}. */
  #tableOk = false;
  #poolDown = false;
  #closed = false;

  constructor(options: ConnectionOptions) {
    this.#pool = options.pool;
    this.#connectionString = options.connectionString;
    this.#layout = options.layout;
    this.#createTable = options.createTable;
    this.#statementTimeout = options.statementTimeout;
    this.#onError = options.onError;
    this.timeoutMs = options.statementTimeout + CLIENT_MARGIN_MS;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs one statement, retried once on a fresh connection when the link broke. */
  query(stmt: Statement, values: unknown[], write: boolean): Promise<PgQueryResult> {
    return this.run({ name: stmt.name, text: stmt.text, values }, write, this.timeoutMs);
  }

  /**
   * Runs `config` within `timeoutMs` (at most {@link timeoutMs}), retried once on a fresh
   * connection when the link broke. A function is called when a connection is in hand, so it
   * must return the same statement each time it is called (the retry calls it again).
   */
  async run(
    config: PgQueryConfig | (() => PgQueryConfig),
    write: boolean,
    timeoutMs: number,
  ): Promise<PgQueryResult> {
    const pool =
      this.#pool !== undefined && this.#tableOk && !this.#closed ? this.#pool : await this.ready();
    const started = Date.now();
    try {
      const result = await runQuery(pool, config, timeoutMs);
      this.#poolDown = false;
      return result;
    } catch (error) {
      const remaining = timeoutMs - (Date.now() - started);
      if (!isRetryable(error) || remaining < 50 || this.#closed) {
        throw toStoreError(error, write, this.#layout.table.name);
      }
      try {
        return await runQuery(pool, config, remaining);
      } catch (retryError) {
        throw toStoreError(retryError, write, this.#layout.table.name);
      }
    }
  }

  /** The pool, opened on first use for a `connectionString`, with the table ensured. */
  async ready(): Promise<PgPoolLike> {
    if (this.#closed) throw new StoreClosedError();
    const pool = this.#pool ?? (await this.#open());
    if (this.#createTable) {
      this.#tableReady ??= this.#ensureTable(pool);
      await this.#tableReady;
    }
    this.#tableOk = true;
    return pool;
  }

  /**
   * No query starts from now on; once `pending` (a sweep in progress) settles, the pool is ended
   * if this opened it. The application's pool stays open.
   */
  async close(pending?: Promise<unknown>): Promise<void> {
    this.#closed = true;
    await pending?.catch(() => undefined);
    this.#pool = undefined;
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned) await (await owned.catch(() => undefined))?.end();
  }

  async #open(): Promise<PgPoolLike> {
    if (this.#connectionString === undefined) throw new StoreClosedError();
    if (!this.#owned) {
      const owned = openOwnedPool(this.#connectionString, this.#statementTimeout, (error) => {
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
      const table = this.#layout.table;
      try {
        const found = await runQuery(
          pool,
          { text: 'SELECT to_regclass($1) IS NOT NULL AS found', values: [table.sql] },
          this.timeoutMs,
        );
        if (found.rows[0]?.found === true) return;
        // One simple-protocol query: its statements run in one implicit transaction, which the
        // xact lock spans. The text holds only the quoted table name and a numeric key.
        await runQuery(
          pool,
          { text: `SELECT pg_advisory_xact_lock(${table.lockKey});\n${this.#layout.createSql}` },
          this.timeoutMs,
        );
      } catch (error) {
        throw toStoreError(error, true, table.name);
      }
    })();
    attempt.catch(() => {
      if (this.#tableReady === attempt) this.#tableReady = undefined;
    });
    return attempt;
  }
}
