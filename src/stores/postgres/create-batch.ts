/**
 * Concurrent creates coalesced into one statement: group commit, done by the application.
 *
 * A create that finds no batch waiting for a connection opens one and asks the pool for a
 * connection at once; every create arriving while that batch still waits joins it (up to
 * {@link MAX_ROWS} rows and {@link MAX_BYTES} of values). Once a connection is in hand the batch
 * closes and goes out as one statement — the single-row create when it holds one row, else the
 * layout's multi-row insert — so N sessions cost one round trip, one transaction and one WAL
 * flush instead of N. Nothing ever waits to fill a batch: with a free connection a create goes
 * out on the next tick, and batches only grow while the pool has no connection to give, which
 * is exactly when the database is the bottleneck.
 *
 * Every caller is answered after its batch committed, with its own row's outcome (`RETURNING
 * id` names the rows written); the guarantees are those of a lone create. Bounds: a batch runs
 * within the time left to its oldest caller. Two creates of one id in a batch behave as two
 * sequential creates: the later one is sent alone once the batch settled (so it is refused when
 * the first created the row). Failures: a batch refused for a value one of its rows carries
 * (bad data, a constraint, a size limit — see `isValueRefusal`) is retried row by row, so each
 * caller gets what its own create would have got; any other failure (the link, a timeout, the
 * server refusing writes) rejects every caller of the batch with that error, as it would have
 * rejected each of them alone.
 */
import type { BatchCreate, Statement } from './layout.js';
import { isValueRefusal, type PgQueryConfig, type PgQueryResult, timeoutError } from './pool.js';

/** Most rows in one statement. */
const MAX_ROWS = 64;
/** Most bytes of values in one statement; a larger row goes alone. */
const MAX_BYTES = 256 * 1024;
/** With less time left, a row of a refused batch is not sent again alone. */
const MIN_RETRY_MS = 50;

/** What a {@link CreateBatcher} needs from its store. */
export interface BatchContext {
  /** The layout's single-row create. */
  readonly single: Statement;
  readonly many: BatchCreate;
  /** Runs a statement within `timeoutMs`, rejecting with the library's errors (retries included). */
  run(config: PgQueryConfig | (() => PgQueryConfig), timeoutMs: number): Promise<PgQueryResult>;
  /** The bound on one create, in ms. */
  readonly timeoutMs: number;
}

interface Entry {
  readonly id: string;
  /** The single-row create's values. */
  readonly values: unknown[];
  readonly size: number;
  /** When this caller's bound runs out (ms since the epoch). */
  readonly deadline: number;
  resolve(created: boolean): void;
  reject(error: unknown): void;
}

interface Batch {
  readonly rows: Map<string, Entry>;
  bytes: number;
  /** Built when a connection took the batch; no create joins it from then on. */
  config: PgQueryConfig | undefined;
  /** Creates of an id the batch already holds, sent alone once it settled. */
  later: Entry[] | undefined;
}

export class CreateBatcher {
  readonly #ctx: BatchContext;
  /** The batch still waiting for a connection that new creates join. */
  #open: Batch | undefined;

  constructor(context: BatchContext) {
    this.#ctx = context;
  }

  /** Creates `id` with its single-row create `values`; resolves true when the row was written. */
  create(id: string, values: unknown[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const ctx = this.#ctx;
      const entry = {
        id,
        values,
        size: ctx.many.size(values),
        deadline: Date.now() + ctx.timeoutMs,
        resolve,
        reject,
      };
      const batch = this.#open;
      if (batch === undefined) {
        this.#start(entry);
      } else if (batch.rows.has(id)) {
        if (batch.later === undefined) batch.later = [entry];
        else batch.later.push(entry);
      } else if (batch.rows.size >= MAX_ROWS || batch.bytes + entry.size > MAX_BYTES) {
        this.#start(entry);
      } else {
        batch.rows.set(id, entry);
        batch.bytes += entry.size;
      }
    });
  }

  /** Opens a batch with `first` and asks for its connection. */
  #start(first: Entry): void {
    const batch: Batch = {
      rows: new Map([[first.id, first]]),
      bytes: first.size,
      config: undefined,
      later: undefined,
    };
    this.#open = batch;
    const build = () => {
      if (batch.config === undefined) {
        if (this.#open === batch) this.#open = undefined;
        batch.config = this.#statement(batch);
      }
      return batch.config;
    };
    this.#ctx.run(build, first.deadline - Date.now()).then(
      (result) => this.#settle(batch, result),
      (error: unknown) => this.#fail(batch, error),
    );
  }

  #statement(batch: Batch): PgQueryConfig {
    if (batch.rows.size === 1) {
      const [only] = batch.rows.values();
      return this.#single(only!.values);
    }
    const rows: unknown[][] = [];
    for (const entry of batch.rows.values()) rows.push(entry.values);
    const { statement } = this.#ctx.many;
    return {
      name: statement.name,
      text: statement.text,
      values: this.#ctx.many.values(rows, Date.now()),
    };
  }

  #settle(batch: Batch, result: PgQueryResult): void {
    if (batch.rows.size === 1) {
      for (const entry of batch.rows.values()) entry.resolve(result.rowCount === 1);
    } else {
      const written = new Set<unknown>();
      for (const row of result.rows) written.add(row.id);
      for (const entry of batch.rows.values()) entry.resolve(written.has(entry.id));
    }
    this.#sendLater(batch);
  }

  #fail(batch: Batch, error: unknown): void {
    // A batch that never got a connection takes no more creates.
    if (this.#open === batch) this.#open = undefined;
    const oneByOne = batch.rows.size > 1 && isValueRefusal(error);
    for (const entry of batch.rows.values()) {
      if (oneByOne) this.#alone(entry, error);
      else entry.reject(error);
    }
    this.#sendLater(batch);
  }

  #sendLater(batch: Batch): void {
    if (batch.later === undefined) return;
    for (const entry of batch.later) this.#alone(entry, timeoutError(this.#ctx.timeoutMs));
  }

  /** Sends `entry` as a single-row create within its time left; too little left: `otherwise`. */
  #alone(entry: Entry, otherwise: unknown): void {
    const left = entry.deadline - Date.now();
    if (left < MIN_RETRY_MS) {
      entry.reject(otherwise);
      return;
    }
    this.#ctx
      .run(this.#single(entry.values), left)
      .then((result) => entry.resolve(result.rowCount === 1), entry.reject);
  }

  /** The layout's single-row create with `values`. */
  #single(values: unknown[]): PgQueryConfig {
    const { name, text } = this.#ctx.single;
    return { name, text, values };
  }
}
