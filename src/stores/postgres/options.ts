/** PostgresStore options: their documentation, defaults and validation. */
import { InvalidOptionError } from '../../errors.js';
import type { BackgroundErrorHandler } from '../../types.js';
import type { PgPoolLike } from './pool.js';

/** Options of {@link PostgresStore}. Give exactly one of `pool` and `connectionString`. */
export interface PostgresStoreOptions {
  /**
   * Type: a node-postgres `Pool` (`new Pool(…)` from `pg`), or any pool with `connect()`
   * resolving a client with `query({ name, text, values })` and `release(error?)`. Default: none.
   * The store never ends it (`close()` leaves it open). Give it an `error` listener, as
   * node-postgres requires, and preferably `statement_timeout` (see `statementTimeout`).
   */
  pool?: PgPoolLike;
  /**
   * Type: `string` (`postgres://user@host:5432/db`). Default: none.
   * Instead of `pool`: the store imports the optional `pg` package on first use, creates a pool
   * with `statement_timeout` set, owns it and ends it in `close()`. Pool errors go to `onError`.
   */
  connectionString?: string;
  /**
   * Type: `string`, an identifier or `schema.identifier` of letters, digits, `_` and `$`,
   * quoted as given (so it is case-sensitive). Default: `'sessions'`; with
   * `layout: 'connect-pg-simple'`, `'session'` (connect-pg-simple's default).
   */
  table?: string;
  /**
   * Type: `boolean`. Default: `true`.
   * Create the table and its indexes on first use when the table does not exist (under an
   * advisory lock, so several instances starting together don't race). When `false`, create it
   * yourself with the SQL in the README.
   */
  createTable?: boolean;
  /**
   * Type: `number` (seconds, > 0). Default: `86400`.
   * Upper bound on a session's lifetime after its last write: an `expiresAt` further away than
   * `now + ttl` is clamped. The manager passes its `maxAge / 1000`.
   */
  ttl?: number;
  /**
   * Type: `number` (ms, 0 or ≥ 1000). Default: `600000` (10 minutes).
   * Time between cleanup sweeps (expired rows deleted in batches, one instance at a time). The
   * timer starts at construction and is `unref()`'d; `0` disables it (call `cleanup()` yourself).
   */
  cleanupInterval?: number;
  /** Type: `number` (integer ≥ 1). Default: `1000`. Rows deleted per cleanup statement. */
  cleanupBatchSize?: number;
  /** Type: `number` (integer ≥ 1). Default: `500`. Rows fetched per page by `all()`. */
  pageSize?: number;
  /**
   * Type: `number` (ms, integer ≥ 1). Default: `2000`.
   * Bound on every query. On a pool the store creates (`connectionString`) it is the server's
   * `statement_timeout`, set as a connection parameter. Independently, the store gives every
   * call — waiting for a free connection included — `statementTimeout + 500` ms on the client
   * side, so a call never hangs even on a pool without a server-side timeout; it then rejects
   * with `StoreUnavailableError` and the connection is discarded.
   */
  statementTimeout?: number;
  /**
   * Type: `'native' | 'connect-pg-simple'`. Default: `'native'`.
   * `'native'`: the store's own table (`id`, `data jsonb`, `created_at`, `expires_at` in ms,
   * `user_id`). `'connect-pg-simple'`: connect-pg-simple's table (`sid`, `sess json`,
   * `expire timestamp`), read and written so that both libraries see each other's sessions.
   */
  layout?: 'native' | 'connect-pg-simple';
  /**
   * Type: `(error: Error) => void`. Default: `process.emitWarning`.
   * Receives what has no caller to reject: unreadable rows met by `get`/`all` (read as "no
   * session"), failed cleanup sweeps, and errors of the pool the store owns.
   */
  onError?: BackgroundErrorHandler;
}

export interface ResolvedPostgresOptions {
  pool: PgPoolLike | undefined;
  connectionString: string | undefined;
  table: unknown;
  createTable: boolean;
  ttl: number;
  cleanupInterval: number;
  cleanupBatchSize: number;
  pageSize: number;
  statementTimeout: number;
  layout: 'native' | 'connect-pg-simple';
  onError: BackgroundErrorHandler | undefined;
}

export function resolvePostgresOptions(options: PostgresStoreOptions): ResolvedPostgresOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(
      `PostgresStore options must be an object with a pool or a connectionString (got ${describe(options)})`,
    );
  }
  const { pool, connectionString } = options;
  if ((pool === undefined) === (connectionString === undefined)) {
    throw new InvalidOptionError(
      'PostgresStore needs exactly one of pool (a node-postgres Pool) and connectionString',
    );
  }
  if (pool !== undefined && typeof (pool as { connect?: unknown })?.connect !== 'function') {
    throw new InvalidOptionError(
      `pool must be a node-postgres Pool (an object with connect()) (got ${describe(pool)})`,
    );
  }
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))
  ) {
    throw new InvalidOptionError(
      `connectionString must be a string starting with postgres:// or postgresql:// (got ${typeof connectionString === 'string' ? 'another string' : describe(connectionString)})`,
    );
  }
  const layout = options.layout ?? 'native';
  if (layout !== 'native' && layout !== 'connect-pg-simple') {
    throw new InvalidOptionError(
      `layout must be 'native' or 'connect-pg-simple' (got ${describe(layout)})`,
    );
  }
  const createTable = options.createTable ?? true;
  if (typeof createTable !== 'boolean') {
    throw new InvalidOptionError(`createTable must be a boolean (got ${describe(createTable)})`);
  }
  const ttl = options.ttl ?? 86_400;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw new InvalidOptionError(`ttl must be a positive number of seconds (got ${describe(ttl)})`);
  }
  const cleanupInterval = options.cleanupInterval ?? 600_000;
  if (
    !isIntegerIn(cleanupInterval, 0, 2_147_483_647) ||
    (cleanupInterval > 0 && cleanupInterval < 1000)
  ) {
    throw new InvalidOptionError(
      `cleanupInterval must be 0 (off) or an integer number of milliseconds ≥ 1000 (got ${describe(cleanupInterval)})`,
    );
  }
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidOptionError(`onError must be a function (got ${describe(onError)})`);
  }
  return {
    pool,
    connectionString,
    table:
      options.table === undefined ? (layout === 'native' ? 'sessions' : 'session') : options.table,
    createTable,
    ttl,
    cleanupInterval,
    cleanupBatchSize: integer('cleanupBatchSize', options.cleanupBatchSize, 1000, 100_000),
    pageSize: integer('pageSize', options.pageSize, 500, 100_000),
    statementTimeout: integer('statementTimeout', options.statementTimeout, 2000, 2_147_483_147),
    layout,
    onError,
  };
}

function integer(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!isIntegerIn(value, 1, max)) {
    throw new InvalidOptionError(
      `${name} must be an integer from 1 to ${max} (got ${describe(value)})`,
    );
  }
  return value;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return `an object${name ? ` (${name})` : ''}`;
}
