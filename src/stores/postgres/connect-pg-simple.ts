/**
 * connect-pg-simple's table, read and written in place, so an app can switch between that
 * store (through express-session) and this one without moving data, and both can run side by
 * side during the switch:
 *
 *   sid varchar primary key, sess json not null, expire timestamp(6) not null
 *
 * (a table made by hand with `sess` as `jsonb` or `text` works too, as with connect-pg-simple).
 * `sess` is express-session's session object: the data keys at the top level plus a `cookie`
 * object. This layout keeps that shape: data keys are stored at the top level, express-session's
 * `cookie` is kept as it is (only its `expires` follows every renewal), a new session gets a
 * cookie with express-session's defaults, and the creation time sits under the reserved key
 * `$ssjs:createdAt`, which express-session carries along as an ordinary property. A session that
 * connect-pg-simple wrote has no creation time: it is derived as `cookie.expires` minus
 * `cookie.originalMaxAge` (when express-session last renewed it), else the row's expiry minus
 * `ttl`, and never later than now. A data key named `cookie` is stored escaped so it can't
 * clash with express-session's.
 *
 * `expire` is a timestamp without time zone, as connect-pg-simple writes it: converted with the
 * connection's `TimeZone` both ways, so both libraries agree as long as their connections use
 * the same one (the server default unless an app changes it). It keeps microseconds, so expiry
 * is exact to the millisecond.
 */
import type { JsonValue, SessionChanges, SessionRecord } from '../../types.js';
import { decodeObject, encodeKeys, pushEntries, RESERVED_PREFIX, toMillis } from './codec.js';
import { type Layout, parseJson, statement } from './layout.js';
import { indexName, type TableName } from './table.js';

/** The reserved key holding the creation time inside `sess`. */
export const CREATED_AT_KEY = `${RESERVED_PREFIX}createdAt`;

const COOKIE = 'cookie';
const toTimestamp = (param: string) => `to_timestamp(${param}::float8 / 1000)`;
const EXPIRE_MS = `(extract(epoch FROM expire::timestamptz) * 1000)::bigint`;
const escapeCookie = (key: string) => key === COOKIE;
/**
 * `sess` read as `json`: connect-pg-simple's own table types it `json` (a no-op cast then), but
 * connect-pg-simple also reads tables made by hand with `jsonb` or `text`, and so does this layout.
 */
const SESS = 'sess::json';

/** The DDL: connect-pg-simple's own table definition, for `createTable` and the README. */
export function connectPgSimpleTableSql(table: TableName): string {
  return [
    `CREATE TABLE IF NOT EXISTS ${table.sql} (
  sid varchar NOT NULL COLLATE "default" PRIMARY KEY,
  sess json NOT NULL,
  expire timestamp(6) NOT NULL
);`,
    `CREATE INDEX IF NOT EXISTS ${indexName(table, 'expire_idx')} ON ${table.sql} (expire);`,
  ].join('\n');
}

/** express-session's default cookie, for a session this store creates. */
function newCookie(expiresAt: number, now: number): Record<string, JsonValue> {
  return {
    originalMaxAge: Math.max(0, expiresAt - now),
    expires: new Date(expiresAt).toISOString(),
    httpOnly: true,
    path: '/',
  };
}

export function connectPgSimpleLayout(table: TableName, ttlMs: number): Layout {
  const t = table.sql;
  const live = `expire > ${toTimestamp('$2')}`;
  // express-session's cookie with its `expires` moved to $4 (an ISO string), or a fresh one.
  const renewedCookie = `jsonb_build_object('cookie',
    CASE WHEN json_typeof(${SESS}->'cookie') = 'object' THEN (${SESS}->'cookie')::jsonb ELSE '{}'::jsonb END
    || jsonb_build_object('expires', $4::text))`;
  return {
    table,
    createSql: connectPgSimpleTableSql(table),
    get: statement(
      table,
      'get',
      `SELECT sess::text AS d, ${EXPIRE_MS} AS e FROM ${t} WHERE sid = $1 AND ${live}`,
    ),
    create: statement(
      table,
      'create',
      `INSERT INTO ${t} AS s (sid, sess, expire) VALUES ($1, $2::json, ${toTimestamp('$3')})
ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire
WHERE s.expire <= ${toTimestamp('$4')}`,
    ),
    update: statement(
      table,
      'update',
      `UPDATE ${t} SET sess = (((sess::jsonb - $5::text[]) || $6::jsonb) || ${renewedCookie})::json,
  expire = ${toTimestamp('$3')}
WHERE sid = $1 AND ${live} AND json_typeof(${SESS}) = 'object'`,
    ),
    touch: statement(
      table,
      'touch',
      `UPDATE ${t} SET sess = (sess::jsonb || ${renewedCookie})::json, expire = ${toTimestamp('$3')}
WHERE sid = $1 AND ${live} AND json_typeof(${SESS}) = 'object'`,
    ),
    touchAtLeast: statement(
      table,
      'touch_min',
      `WITH s AS (SELECT sid, expire FROM ${t} WHERE sid = $1 AND ${live} AND json_typeof(${SESS}) = 'object'),
u AS (UPDATE ${t} AS t SET sess = (t.sess::jsonb || ${renewedCookie.replaceAll(SESS, `t.${SESS}`)})::json,
    expire = ${toTimestamp('$3')}
  FROM s WHERE t.sid = s.sid AND s.expire <= ${toTimestamp('($3::float8 - $5::float8)')})
SELECT count(*)::int AS n FROM s`,
    ),
    destroy: statement(table, 'destroy', `DELETE FROM ${t} WHERE sid = $1`),
    page: statement(
      table,
      'page',
      `SELECT sid AS id, sess::text AS d, ${EXPIRE_MS} AS e FROM ${t}
WHERE sid > $1 AND ${live} ORDER BY sid LIMIT $3`,
    ),
    count: statement(
      table,
      'count',
      `SELECT count(*)::int AS n FROM ${t} WHERE expire > ${toTimestamp('$1')}`,
    ),
    clear: statement(table, 'clear', `DELETE FROM ${t}`),
    sweep: statement(
      table,
      'sweep',
      `DELETE FROM ${t} WHERE expire <= ${toTimestamp('$1')} AND sid IN (
  SELECT sid FROM ${t} WHERE expire <= ${toTimestamp('$1')} LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    ),
    createValues(id: string, record: SessionRecord, now: number): unknown[] {
      const parts = [
        `"cookie":${JSON.stringify(newCookie(record.expiresAt, now))}`,
        `${JSON.stringify(CREATED_AT_KEY)}:${record.createdAt}`,
      ];
      pushEntries(parts, record.data, escapeCookie);
      return [id, `{${parts.join(',')}}`, record.expiresAt, now];
    },
    updateValues(id: string, changes: SessionChanges, expiresAt: number, now: number): unknown[] {
      const parts: string[] = [];
      pushEntries(parts, changes?.set, escapeCookie);
      const unset = encodeKeys(changes?.unset, escapeCookie);
      return [id, now, expiresAt, new Date(expiresAt).toISOString(), unset, `{${parts.join(',')}}`];
    },
    touchValues(id: string, expiresAt: number, now: number): unknown[] {
      return [id, now, expiresAt, new Date(expiresAt).toISOString()];
    },
    decode(row: Record<string, unknown>, now: number): SessionRecord | string | undefined {
      const expiresAt = toMillis(row.e);
      if (Number.isNaN(expiresAt)) return 'has an invalid expire';
      if (expiresAt <= now) return undefined;
      const sess = parseJson(row.d) as Record<string, unknown> | undefined;
      const data = decodeObject(sess, COOKIE);
      if (!data || !sess) return 'has a sess that is not a session object';
      const stored = toMillis(sess[CREATED_AT_KEY]);
      const createdAt = Number.isNaN(stored)
        ? derivedCreatedAt(sess, expiresAt, ttlMs, now)
        : stored;
      return { data, createdAt, expiresAt };
    },
  };
}

/** When express-session last set the cookie, else `ttl` before the expiry; never in the future. */
function derivedCreatedAt(
  sess: Record<string, unknown>,
  expiresAt: number,
  ttlMs: number,
  now: number,
): number {
  const cookie = sess.cookie as { expires?: unknown; originalMaxAge?: unknown } | undefined;
  const expires = typeof cookie?.expires === 'string' ? Date.parse(cookie.expires) : Number.NaN;
  const maxAge = cookie?.originalMaxAge;
  const fromCookie =
    Number.isFinite(expires) && typeof maxAge === 'number' && Number.isFinite(maxAge)
      ? expires - maxAge
      : Number.NaN;
  const derived = Number.isFinite(fromCookie) ? fromCookie : expiresAt - ttlMs;
  return Math.max(0, Math.min(now, Math.floor(derived)));
}
