/** PostgresStore options: their documentation, defaults and validation. */
import type { BackgroundErrorHandler } from '../../types.js';
import {
  boolean,
  intervalMs,
  lifetimeSeconds,
  oneOf,
  optionalFunction,
  optionsObject,
  positiveInteger,
  refuse,
} from '../../validate.js';
import type { PgPoolLike } from './pool.js';

/** Options of {@link PostgresStore}. Give exactly one of `pool` and `connectionString`. */
export interface PostgresStoreOptions {
  /**
   * A node-postgres `Pool` (`new Pool(…)` from `pg`), or any pool whose `connect()` resolves a
   * client with `query({ name, text, values })` and `release(error?)`. The store never ends it
   * (`close()` leaves it open). Give it an `error` listener, as node-postgres requires, and
   * preferably `statement_timeout` (see `statementTimeout`).
   * @default undefined (give `pool` or `connectionString`)
   */
  pool?: PgPoolLike;
  /**
   * A `postgres://…` URL, instead of `pool`: the store imports the optional `pg` package on first
   * use, creates a pool with `statement_timeout` set, owns it and ends it in `close()`. Errors of
   * that pool go to `onError`, once per outage.
   * @default undefined
   */
  connectionString?: string;
  /**
   * The table: an identifier or `schema.identifier` of letters, digits, `_` and `$` (at most 63
   * each, not starting with a digit), quoted as given, so it is case-sensitive.
   * @default 'sessions' ('session', connect-pg-simple's default, with that layout)
   */
  table?: string;
  /**
   * Create the table and its indexes on first use when the table does not exist (under an
   * advisory lock, so several instances starting together don't race). When `false`, create it
   * yourself with the SQL in the README.
   * @default true
   */
  createTable?: boolean;
  /**
   * Upper bound, in seconds, on a session's lifetime after its last write: an `expiresAt` further
   * away than `now + ttl` is clamped. Above 0, at most ten years. A store built by the
   * SessionManager gets the manager's `maxAge / 1000`.
   * @default 86400 (one day)
   */
  ttl?: number;
  /**
   * Time between cleanup sweeps in ms (expired rows deleted in batches, one instance at a time),
   * 0 or from 1000 to 2^31 - 1. The timer starts at construction and is `unref()`'d; `0` turns it
   * off (call `cleanup()` yourself).
   * @default 600000 (10 minutes)
   */
  cleanupInterval?: number;
  /**
   * Rows deleted per cleanup statement: an integer from 1 to 100 000.
   * @default 1000
   */
  cleanupBatchSize?: number;
  /**
   * Rows fetched per page by `all()`: an integer from 1 to 100 000.
   * @default 500
   */
  pageSize?: number;
  /**
   * Bound on every query, in ms (an integer from 1 to 2^31 - 1). On a pool the store creates
   * (`connectionString`) it is the server's `statement_timeout`, sent as a connection parameter.
   * Independently, the store gives every call — waiting for a free connection included —
   * `statementTimeout + 500` ms on the client side, so a call never hangs even on a pool without
   * a server-side timeout; it then rejects with `StoreUnavailableError` and the connection is
   * discarded.
   * @default 2000
   */
  statementTimeout?: number;
  /**
   * `'native'`: the store's own table (`id`, `data jsonb`, `created_at`, `expires_at` in ms,
   * `user_id`). `'connect-pg-simple'`: connect-pg-simple's table (`sid`, `sess json`,
   * `expire timestamp`), read and written so that both libraries see each other's sessions.
   * @default 'native'
   */
  layout?: 'native' | 'connect-pg-simple';
  /**
   * Receives what has no caller to reject: unreadable rows met by `get`/`all` (read as "no
   * session"), failed cleanup sweeps, and errors of the pool the store owns.
   * @default process.emitWarning
   */
  onError?: BackgroundErrorHandler;
}

/** The defaults of {@link PostgresStoreOptions}: the one place each is written. */
export const POSTGRES_STORE_DEFAULTS = {
  table: 'sessions',
  createTable: true,
  ttl: 86_400,
  cleanupInterval: 600_000,
  cleanupBatchSize: 1000,
  pageSize: 500,
  statementTimeout: 2000,
  layout: 'native',
} as const;

/** connect-pg-simple's own default table name. */
const CONNECT_PG_SIMPLE_TABLE = 'session';
const MAX_ROWS = 100_000;
const LAYOUTS = ['native', 'connect-pg-simple'] as const;

export interface ResolvedPostgresOptions {
  pool: PgPoolLike | undefined;
  connectionString: string | undefined;
  /** Checked by `parseTableName`. */
  table: unknown;
  createTable: boolean;
  ttl: number;
  cleanupInterval: number;
  cleanupBatchSize: number;
  pageSize: number;
  statementTimeout: number;
  layout: (typeof LAYOUTS)[number];
  onError: BackgroundErrorHandler | undefined;
}

/** Validates PostgresStore options and fills in defaults. Throws InvalidOptionError. */
export function resolvePostgresOptions(
  options: PostgresStoreOptions | undefined,
): ResolvedPostgresOptions {
  const o = optionsObject('PostgresStore options', options);
  const d = POSTGRES_STORE_DEFAULTS;
  const { pool, connectionString } = o;
  if ((pool === undefined) === (connectionString === undefined)) {
    refuse(
      'PostgresStore options',
      'given exactly one of pool (a node-postgres Pool) and connectionString',
      pool === undefined ? 'neither' : 'both',
    );
  }
  if (pool !== undefined && typeof (pool as { connect?: unknown } | null)?.connect !== 'function') {
    refuse('pool', 'a node-postgres Pool (an object with connect())', pool);
  }
  if (
    connectionString !== undefined &&
    (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString))
  ) {
    // The string itself may hold a password: never echoed.
    refuse(
      'connectionString',
      'a string starting with postgres:// or postgresql://',
      connectionString,
      typeof connectionString === 'string' ? 'another string' : undefined,
    );
  }
  const layout = oneOf('layout', o.layout, d.layout, LAYOUTS);
  const cleanupInterval = intervalMs('cleanupInterval', o.cleanupInterval, d.cleanupInterval);
  if (cleanupInterval > 0 && cleanupInterval < 1000) {
    refuse(
      'cleanupInterval',
      '0 (off) or an integer number of milliseconds from 1000',
      cleanupInterval,
    );
  }
  return {
    pool,
    connectionString,
    table:
      o.table === undefined ? (layout === 'native' ? d.table : CONNECT_PG_SIMPLE_TABLE) : o.table,
    createTable: boolean('createTable', o.createTable, d.createTable),
    ttl: lifetimeSeconds('ttl', o.ttl, d.ttl),
    cleanupInterval,
    cleanupBatchSize: positiveInteger(
      'cleanupBatchSize',
      o.cleanupBatchSize,
      d.cleanupBatchSize,
      MAX_ROWS,
    ),
    pageSize: positiveInteger('pageSize', o.pageSize, d.pageSize, MAX_ROWS),
    statementTimeout: intervalMs('statementTimeout', o.statementTimeout, d.statementTimeout, 1),
    layout,
    onError: optionalFunction<BackgroundErrorHandler>('onError', o.onError),
  };
}
