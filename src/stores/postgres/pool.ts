/**
 * The thin layer between PostgresStore and node-postgres. The pool is typed structurally by the
 * few members used, so `pg` appears nowhere in the published types (it is an optional peer
 * dependency, imported only when the store creates its own pool from a `connectionString`).
 * Every query is bounded: the wait for a connection and the query itself share one deadline,
 * after which the call rejects with `StoreUnavailableError`; a connection that failed or timed
 * out is handed back to the pool as broken, so the pool replaces it.
 */
import { InvalidOptionError, StoreUnavailableError, StoreWriteError } from '../../errors.js';

/** A query as node-postgres takes it: a named statement is prepared once per connection. */
export interface PgQueryConfig {
  name?: string;
  text: string;
  values?: unknown[];
  /** node-postgres' client-side bound on this query, in ms. */
  query_timeout?: number;
}

/** The part of a node-postgres result the store reads. */
export interface PgQueryResult {
  rows: Array<Record<string, unknown>>;
  rowCount: number | null;
}

/** The members of a node-postgres `PoolClient` that the store uses. */
export interface PgPoolClientLike {
  query(config: PgQueryConfig): Promise<PgQueryResult>;
  /** `release(error)` makes the pool discard the connection instead of reusing it. */
  release(error?: Error | boolean): void;
  /**
   * node-postgres emits `error` on a checked-out client whose connection drops, even while a
   * query is running; the pool listens only while the client is idle, so the store listens
   * while it holds one (an unheard `error` event would end the process).
   */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
}

/** The members of a node-postgres `Pool` (or a compatible pool) that the store uses. */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
}

interface OwnedPool extends PgPoolLike {
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface PgModule {
  Pool: new (config: Record<string, unknown>) => OwnedPool;
}

/** Opens the pool the store owns; `pg` is imported here only. */
export async function openOwnedPool(
  connectionString: string,
  statementTimeout: number,
  onPoolError: (error: Error) => void,
): Promise<OwnedPool> {
  const specifier = 'pg';
  let mod: PgModule & { default?: PgModule };
  try {
    mod = (await import(specifier)) as PgModule & { default?: PgModule };
  } catch (error) {
    throw Object.assign(
      new InvalidOptionError(
        'connectionString needs the optional peer dependency "pg" (node-postgres); run: npm install pg — or pass your own pool instead',
      ),
      { cause: error },
    );
  }
  const Pool = mod.Pool ?? mod.default?.Pool;
  const pool = new Pool({
    connectionString,
    // Server-side bound, sent once as a connection parameter: no round trip per query.
    statement_timeout: statementTimeout,
    connectionTimeoutMillis: statementTimeout,
    idleTimeoutMillis: 30_000,
    // An idle owned pool never keeps the process alive.
    allowExitOnIdle: true,
    application_name: 'session-store-js',
  });
  // An idle connection that dies (server restart, pg_terminate_backend) is reported here; the
  // pool has already dropped it. Without a listener node-postgres would crash the process.
  pool.on('error', onPoolError);
  return pool;
}

/** True for an error sent by the PostgreSQL server (it carries a SQLSTATE). */
function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; severity?: unknown } | null;
  if (e === null || typeof e !== 'object') return undefined;
  return typeof e.severity === 'string' &&
    typeof e.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(e.code)
    ? e.code
    : undefined;
}

/**
 * The server can't run anything right now or the link is gone: connection exceptions (class
 * 08), shutdown and startup (57P01–57P03), too many connections (53300), and client-side
 * failures that carry no SQLSTATE (refused, reset, terminated). The connection is discarded.
 */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state === undefined) return true;
  return state.startsWith('08') || /^57P0[1-3]$/.test(state) || state === '53300';
}

/** A retry on a fresh connection may succeed: the link broke, or a deadlock/serialization loss. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return false;
  const state = sqlState(error);
  return isConnectionFailure(error) || state === '40001' || state === '40P01';
}

/**
 * A statement refused for one of the values it carries — a cardinality violation (class 21), bad
 * data (22), an integrity constraint (23), a size limit (54) — rather than for the link or the
 * server's state: the same rows sent one by one may all succeed but that one. Looks through a
 * library error to its `cause`.
 */
export function isValueRefusal(error: unknown): boolean {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const state = sqlState(cause ?? error);
  return state !== undefined && /^(?:21|22|23|54)/.test(state);
}

/**
 * SQLSTATEs of a write the server refused while it is up: a read-only transaction or standby
 * (25006), insufficient resources (class 53: disk full, out of memory, …, but not 53300), a
 * program limit such as a value too large for `jsonb` (class 54), bad data (class 22).
 */
function isRefusedWrite(state: string): boolean {
  return (
    state === '25006' ||
    (state.startsWith('53') && state !== '53300') ||
    state.startsWith('54') ||
    state.startsWith('22')
  );
}

/**
 * A failed query → the library's error. Messages quote only the SQLSTATE, never the server's
 * text (which can echo values); the original error is the `cause`.
 */
export function toStoreError(error: unknown, write: boolean, table: string): Error {
  if (error instanceof StoreUnavailableError || error instanceof StoreWriteError) return error;
  const state = sqlState(error);
  if (state === undefined) {
    const reason = error instanceof Error ? error.message : String(error);
    return new StoreUnavailableError(`PostgreSQL is unavailable (${reason})`, {
      cause: error,
    });
  }
  if (write && isRefusedWrite(state)) {
    return new StoreWriteError(
      `PostgreSQL refused the write (SQLSTATE ${state}); the previous state is kept`,
      { cause: error },
    );
  }
  if (state === '57014') {
    return new StoreUnavailableError(
      'PostgreSQL cancelled the statement (statement timeout, SQLSTATE 57014)',
      { cause: error },
    );
  }
  if (state === '42P01' || state === '3F000') {
    return new StoreUnavailableError(
      `the table ${table} does not exist (SQLSTATE ${state}); create it with the SQL in the README or set createTable: true`,
      { cause: error },
    );
  }
  return new StoreUnavailableError(`PostgreSQL replied with an error (SQLSTATE ${state})`, {
    cause: error,
  });
}

/** The client-side bound of a call ran out. */
export function timeoutError(ms: number): StoreUnavailableError {
  return new StoreUnavailableError(
    `PostgreSQL did not answer within ${ms} ms (statementTimeout + 500 ms client-side bound)`,
  );
}

/**
 * Runs `config` on a connection from `pool` within `timeoutMs` (waiting for a connection
 * included). Rejects with the raw error (for {@link toStoreError}) or `StoreUnavailableError` on
 * timeout. A connection whose link failed or whose query timed out is released as broken.
 * `config` may be a function, called once a connection is in hand (a batch of creates keeps
 * growing while the pool has none free); it is not called when no connection comes.
 *
 * This is the path of every request, so it costs one timer for both phases (none from
 * node-postgres' `query_timeout`) and no listener churn: each connection gets one `error`
 * listener for its life (see {@link watch}).
 */
export function runQuery(
  pool: PgPoolLike,
  config: PgQueryConfig | (() => PgQueryConfig),
  timeoutMs: number,
): Promise<PgQueryResult> {
  return new Promise((resolve, reject) => {
    let client: PgPoolClientLike | undefined;
    let done = false;
    const settle = (error: unknown, result?: PgQueryResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (client) {
        // A timeout leaves the query running: that connection is discarded, never reused.
        if (result === undefined && isConnectionFailure(error)) broken.add(client);
        client.release(broken.has(client));
      }
      if (result === undefined) reject(error);
      else resolve(result);
    };
    const timer = setTimeout(() => settle(timeoutError(timeoutMs)), timeoutMs);
    call(() => pool.connect()).then((connected) => {
      if (done) return connected.release();
      client = connected;
      watch(connected);
      call(() => connected.query(typeof config === 'function' ? config() : config)).then(
        (result) => settle(undefined, result),
        settle,
      );
    }, settle);
  });
}

/** `fn()`, with a synchronous throw turned into a rejection. */
function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Connections whose link failed (an `error` event, or a query failing for the link). */
const broken = new WeakSet<PgPoolClientLike>();
const watched = new WeakSet<PgPoolClientLike>();

/**
 * Listens for `error` on a connection, once for its life: node-postgres emits it on a
 * checked-out client whose link drops (the pool listens only while the client is idle), and
 * an unheard `error` event would end the process. The error marks the connection broken.
 */
function watch(client: PgPoolClientLike): void {
  if (watched.has(client) || !client.on) return;
  watched.add(client);
  client.on('error', () => broken.add(client));
}

/** A checked-out client held for several statements; released as broken once marked so. */
export interface Held {
  client: PgPoolClientLike;
  /** The link failed (or a statement timed out): the pool must discard this connection. */
  markBroken(): void;
  release(): void;
}

export function hold(client: PgPoolClientLike): Held {
  watch(client);
  return {
    client,
    markBroken: () => broken.add(client),
    release: () => client.release(broken.has(client)),
  };
}

/** `pool.connect()` bounded by `timeoutMs`; a connection that arrives too late goes straight back. */
export function acquire(pool: PgPoolLike, timeoutMs: number): Promise<PgPoolClientLike> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(timeoutError(timeoutMs));
    }, timeoutMs);
    call(() => pool.connect()).then(
      (client) => {
        clearTimeout(timer);
        if (late) client.release();
        else resolve(client);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!late) reject(error);
      },
    );
  });
}
