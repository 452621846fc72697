/**
 * What a table layout gives PostgresStore: the statements (named, so each connection prepares
 * them once and every later call is a single round trip), how to build their parameters, and
 * how to read a row back. Two layouts exist: the store's own table and connect-pg-simple's.
 */
import type { SessionChanges, SessionRecord } from '../../types.js';
import type { TableName } from './table.js';

/** A named statement; `values` are given per call. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** A layout's multi-row create: many sessions in one statement (see create-batch.ts). */
export interface BatchCreate {
  /** Values from {@link values} → a row `{ id }` for every session created. */
  readonly statement: Statement;
  /** The values of the rows' single-row creates (from `createValues`) → the statement's. */
  values(rows: readonly (readonly unknown[])[], now: number): unknown[];
  /**
   * About how many bytes a row (its single-row create values) sends, for a batch's byte bound;
   * `Infinity` for a row that must go alone, one PostgreSQL might refuse as a whole statement.
   */
  size(row: readonly unknown[]): number;
}

export interface Layout {
  readonly table: TableName;
  /** The DDL that creates the table and its indexes (constant text, run once, not prepared). */
  readonly createSql: string;
  /** `[id, now]` → at most one row for {@link decode}. */
  readonly get: Statement;
  /** Values from {@link createValues}; rowCount 1 when created. */
  readonly create: Statement;
  /** Concurrent creates in one statement; absent when the layout sends each alone. */
  readonly createMany?: BatchCreate;
  /** Values from {@link updateValues}; rowCount 1 when updated. */
  readonly update: Statement;
  /** Values from {@link touchValues}; rowCount 1 when touched. */
  readonly touch: Statement;
  /**
   * Values from {@link touchValues} plus `minExtension`: writes only when that moves the expiry
   * by at least `minExtension`; one row `{ n }`, 1 when the session is live (written or not).
   */
  readonly touchAtLeast: Statement;
  /** `[id]`. */
  readonly destroy: Statement;
  /** `[afterId, now, limit]` → rows with an `id` column, in id order (keyset paging). */
  readonly page: Statement;
  /** `[now]` → one row `{ n }`. */
  readonly count: Statement;
  /** No values: removes every row of the table. */
  readonly clear: Statement;
  /** `[now, limit]`: deletes at most `limit` expired rows. */
  readonly sweep: Statement;
  createValues(id: string, record: SessionRecord, now: number): unknown[];
  updateValues(id: string, changes: SessionChanges, expiresAt: number, now: number): unknown[];
  touchValues(id: string, expiresAt: number, now: number): unknown[];
  /** A row → live record; `undefined` when expired; a string saying what is wrong when unreadable. */
  decode(row: Record<string, unknown>, now: number): SessionRecord | string | undefined;
}

/** Statement names unique per table and layout: one pool may serve several stores. */
export function statement(table: TableName, kind: string, text: string): Statement {
  return { name: `ssjs_${table.tag}_${kind}`, text };
}

/** Parses a JSON text column, or returns `undefined` when it is not text or not JSON. */
export function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
