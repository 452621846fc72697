/**
 * The store's own table: one row per session, the data as `jsonb`, times as `bigint` ms since
 * the epoch.
 *
 *   id text primary key, data jsonb not null, created_at bigint not null,
 *   expires_at bigint not null, user_id text null
 *
 * `create` is insert-if-absent (a row whose expiry has passed may be replaced, a live one never);
 * `update` merges key-level in one statement (`(data - unset) || set`), and like `touch` only
 * matches a live row, so neither ever recreates a destroyed session. Concurrent updates of one
 * row are serialized by its row lock and each re-reads the latest version, so all of them land.
 */
import type { SessionChanges, SessionRecord } from '../../types.js';
import { decodeObject, encodeKeys, encodeObject, toMillis } from './codec.js';
import { type Layout, parseJson, statement } from './layout.js';
import { indexName, type TableName } from './table.js';

/** The DDL, for the README and for `createTable`. */
export function nativeTableSql(table: TableName): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
  id text PRIMARY KEY,
  data jsonb NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  user_id text NULL
);`,
    `CREATE INDEX IF NOT EXISTS ${indexName(table, 'expires_at_idx')} ON ${table.sql} (expires_at);`,
    `CREATE INDEX IF NOT EXISTS ${indexName(table, 'user_id_idx')} ON ${table.sql} (user_id) WHERE user_id IS NOT NULL;`,
  ].join('\n');
}

export function nativeLayout(table: TableName): Layout {
  const t = table.sql;
  const live = 'expires_at > $2';
  return {
    table,
    createSql: nativeTableSql(table),
    get: statement(
      table,
      'get',
      `SELECT data::text AS d, created_at AS c, expires_at AS e FROM ${t} WHERE id = $1 AND ${live}`,
    ),
    create: statement(
      table,
      'create',
      `INSERT INTO ${t} AS s (id, data, created_at, expires_at) VALUES ($1, $2::jsonb, $3, $4)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at,
  expires_at = EXCLUDED.expires_at, user_id = NULL
WHERE s.expires_at <= $5`,
    ),
    createMany: {
      // One row per element of the arrays; `RETURNING id` names the rows written (inserted, or
      // an expired row replaced), so each caller learns its own outcome. A batch never holds
      // one id twice (ON CONFLICT DO UPDATE may not touch a row twice in one statement).
      statement: statement(
        table,
        'create_many',
        `INSERT INTO ${t} AS s (id, data, created_at, expires_at)
SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[], $4::bigint[])
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at,
  expires_at = EXCLUDED.expires_at, user_id = NULL
WHERE s.expires_at <= $5
RETURNING id`,
      ),
      values(rows: readonly (readonly unknown[])[], now: number): unknown[] {
        const ids: unknown[] = [];
        const data: unknown[] = [];
        const created: unknown[] = [];
        const expires: unknown[] = [];
        for (const row of rows) {
          ids.push(row[0]);
          data.push(row[1]);
          created.push(row[2]);
          expires.push(row[3]);
        }
        return [ids, data, created, expires, now];
      },
      size(row: readonly unknown[]): number {
        // A time outside bigint (a huge createdAt) would fail the whole statement: alone, it
        // fails only its own create.
        if (!Number.isSafeInteger(row[2]) || !Number.isSafeInteger(row[3])) return Infinity;
        return (row[0] as string).length + (row[1] as string).length + 40;
      },
    },
    update: statement(
      table,
      'update',
      `UPDATE ${t} SET data = (data - $3::text[]) || $4::jsonb, expires_at = $5
WHERE id = $1 AND ${live} AND jsonb_typeof(data) = 'object'`,
    ),
    touch: statement(
      table,
      'touch',
      `UPDATE ${t} SET expires_at = $3 WHERE id = $1 AND ${live} AND jsonb_typeof(data) = 'object'`,
    ),
    // The write is skipped when another process already renewed the session nearly as far;
    // no write means no new row version, which is the point of asking.
    touchAtLeast: statement(
      table,
      'touch_min',
      `WITH s AS (SELECT id, expires_at FROM ${t} WHERE id = $1 AND ${live} AND jsonb_typeof(data) = 'object'),
u AS (UPDATE ${t} AS t SET expires_at = $3::bigint FROM s
  WHERE t.id = s.id AND s.expires_at <= $3::bigint - $4::bigint AND t.expires_at > $2)
SELECT count(*)::int AS n FROM s`,
    ),
    destroy: statement(table, 'destroy', `DELETE FROM ${t} WHERE id = $1`),
    page: statement(
      table,
      'page',
      `SELECT id, data::text AS d, created_at AS c, expires_at AS e FROM ${t}
WHERE id > $1 AND ${live} ORDER BY id LIMIT $3`,
    ),
    count: statement(table, 'count', `SELECT count(*)::int AS n FROM ${t} WHERE expires_at > $1`),
    clear: statement(table, 'clear', `DELETE FROM ${t}`),
    // The outer `expires_at <= $1` is re-checked on the row's latest version, so a session
    // touched between the inner scan and the delete survives; SKIP LOCKED never waits on a
    // request that is writing a row.
    sweep: statement(
      table,
      'sweep',
      `DELETE FROM ${t} WHERE expires_at <= $1 AND id IN (
  SELECT id FROM ${t} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    ),
    createValues(id: string, record: SessionRecord, now: number): unknown[] {
      return [id, encodeObject(record.data), record.createdAt, record.expiresAt, now];
    },
    updateValues(id: string, changes: SessionChanges, expiresAt: number, now: number): unknown[] {
      return [id, now, encodeKeys(changes?.unset), encodeObject(changes?.set), expiresAt];
    },
    touchValues(id: string, expiresAt: number, now: number): unknown[] {
      return [id, now, expiresAt];
    },
    decode(row: Record<string, unknown>): SessionRecord | string | undefined {
      const createdAt = toMillis(row.c);
      const expiresAt = toMillis(row.e);
      if (Number.isNaN(createdAt) || Number.isNaN(expiresAt)) return 'has invalid times';
      // Expired rows never get here: every statement that reads rows filters on the caller's `now`.
      const data = decodeObject(parseJson(row.d));
      if (!data) return 'has data that is not a session object';
      return { data, createdAt, expiresAt };
    },
  };
}
