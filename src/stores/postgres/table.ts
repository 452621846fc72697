/**
 * The table a PostgresStore works on: its name, checked and quoted, and the names derived from
 * it (indexes, prepared statements, the cleanup lock). Identifiers can't be query parameters, so
 * the table name is the one piece of SQL text that comes from an option: it is accepted only as
 * one or two plain identifiers (`table` or `schema.table`) and always double-quoted, so no input
 * can change what a statement does.
 */
import { createHash } from 'node:crypto';
import { refuse } from '../../validate.js';

/** A plain identifier: letters, digits, `_` and `$`, not starting with a digit or `$`. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
/** PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), which could merge two names. */
const MAX_IDENTIFIER_BYTES = 63;

export interface TableName {
  /** As given (`sessions`, `app.sessions`). */
  readonly name: string;
  /** Quoted for SQL text: `"sessions"`, `"app"."sessions"`. */
  readonly sql: string;
  /** The table part alone, unquoted. */
  readonly table: string;
  /** The schema part alone, unquoted, when given. */
  readonly schema: string | undefined;
  /** A short stable hash of the name (and layout), for statement names. */
  readonly tag: string;
  /** A signed 64-bit advisory-lock key derived from the name, as a decimal string. */
  readonly lockKey: string;
}

/** Validates and quotes `table` (`name` or `schema.name`); throws `InvalidOptionError`. */
export function parseTableName(table: unknown, layout: string): TableName {
  if (typeof table !== 'string') {
    refuse('table', "a string such as 'sessions' or 'myschema.sessions'", table);
  }
  const parts = table.split('.');
  const valid =
    parts.length <= 2 &&
    parts.every((p) => IDENTIFIER.test(p) && Buffer.byteLength(p) <= MAX_IDENTIFIER_BYTES);
  if (!valid) {
    refuse(
      'table',
      `an identifier or schema.identifier of letters, digits, _ and $ (at most ${MAX_IDENTIFIER_BYTES} each, not starting with a digit)`,
      table,
    );
  }
  const digest = createHash('sha256').update(`session-store-js\0${layout}\0${table}`).digest();
  return {
    name: table,
    sql: parts.map((p) => `"${p}"`).join('.'),
    table: parts[parts.length - 1]!,
    schema: parts.length === 2 ? parts[0] : undefined,
    tag: digest.subarray(0, 6).toString('hex'),
    lockKey: digest.readBigInt64BE(8).toString(),
  };
}

/** The quoted name of an index on `table` ending in `suffix`, kept within the identifier limit. */
export function indexName(table: TableName, suffix: string): string {
  const plain = `${table.table}_${suffix}`;
  const name =
    Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES
      ? plain
      : `${table.table.slice(0, 40)}_${table.tag}_${suffix}`.slice(0, MAX_IDENTIFIER_BYTES);
  return `"${name}"`;
}
