/**
 * PostgresStore against the machine's PostgreSQL (DATABASE_URL or the local `test` database):
 * the compliance suite on an application pool, on a pool the store owns and on
 * connect-pg-simple's layout, each in a random table, then what is specific to PostgreSQL (row
 * layout, table creation, table names, unreadable rows, values PostgreSQL can't hold as is,
 * keyset listing, one round trip per call, refused writes, close) and the README's SQL. Options,
 * malformed input and error mapping: postgres-input.test.ts.
 * Without a reachable PostgreSQL the file skips, except under CI=true or REQUIRE_PG=1.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import {
  InvalidOptionError,
  InvalidSessionDataError,
  InvalidSessionIdError,
  StoreClosedError,
  StoreUnavailableError,
  StoreWriteError,
} from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { type PgPoolLike, PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import {
  DATABASE_URL,
  dropTable,
  pgSkipReason,
  randomTable,
  testPool,
} from '../helpers/postgres.js';
import { HOUR, record } from '../helpers/records.js';
import { describeStore, HOSTILE_IDS } from './compliance.js';

const TEST_TIMEOUT = 60_000;
const skip = await pgSkipReason();

/** A pool wrapper counting checkouts and the queries sent on them. */
function spyPool(pool: pg.Pool): PgPoolLike & { connects: number; queries: string[] } {
  const spy = {
    connects: 0,
    queries: [] as string[],
    async connect() {
      spy.connects++;
      const client = await pool.connect();
      return {
        query(config: pg.QueryConfig) {
          spy.queries.push(config.name ?? config.text);
          return client.query(config);
        },
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
  return spy as PgPoolLike & { connects: number; queries: string[] };
}

if (skip) {
  describe('PostgresStore', { skip }, () => {
    it('needs a PostgreSQL server', () => {});
  });
} else {
  const tables: string[] = [];
  /** A random table, dropped by the suite that asked for it. */
  const table = (label: string) => {
    const name = randomTable(label);
    tables.push(name);
    return name;
  };

  describeStore('PostgresStore (application pool)', async () => {
    const pool = testPool();
    const name = table('pool');
    return {
      store: new PostgresStore({ pool, table: name }),
      reopen: () => new PostgresStore({ pool, table: name }),
      async cleanup() {
        await dropTable(pool, name);
        await pool.end();
      },
    };
  });

  describeStore('PostgresStore (connectionString)', async () => {
    const name = table('url');
    return {
      store: new PostgresStore({ connectionString: DATABASE_URL, table: name }),
      reopen: () => new PostgresStore({ connectionString: DATABASE_URL, table: name }),
      async cleanup() {
        const pool = testPool();
        await dropTable(pool, name);
        await pool.end();
      },
    };
  });

  describeStore("PostgresStore (layout: 'connect-pg-simple')", async () => {
    const pool = testPool();
    const name = table('cps');
    return {
      store: new PostgresStore({ pool, table: name, layout: 'connect-pg-simple' }),
      reopen: () => new PostgresStore({ pool, table: name, layout: 'connect-pg-simple' }),
      async cleanup() {
        await dropTable(pool, name);
        await pool.end();
      },
    };
  });

  describe('PostgresStore: PostgreSQL specifics', { timeout: TEST_TIMEOUT }, () => {
    let pool: pg.Pool;
    let name: string;
    let store: PostgresStore;
    const reported: Error[] = [];

    before(async () => {
      pool = testPool();
      name = table('spec');
      store = new PostgresStore({ pool, table: name, onError: (e) => reported.push(e) });
      await store.length();
    });
    after(async () => {
      await store.close();
      for (const t of tables) await dropTable(pool, t);
      await pool.end();
    });

    const row = async (id: string) =>
      (
        await pool.query(
          `SELECT data, created_at::text AS c, expires_at::text AS e, user_id FROM "${name}" WHERE id = $1`,
          [id],
        )
      ).rows[0] as { data: unknown; c: string; e: string; user_id: unknown } | undefined;

    it('creates the table on first use: the documented columns and indexes', async () => {
      const columns = await pool.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
         WHERE table_name = $1 ORDER BY ordinal_position`,
        [name],
      );
      assert.deepEqual(
        columns.rows.map((c) => `${c.column_name} ${c.data_type} ${c.is_nullable}`),
        [
          'id text NO',
          'data jsonb NO',
          'created_at bigint NO',
          'expires_at bigint NO',
          'user_id text YES',
        ],
      );
      const indexes = await pool.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1', [
        name,
      ]);
      const defs = indexes.rows.map((r) => String(r.indexdef)).join('\n');
      assert.match(defs, /UNIQUE INDEX .* \(id\)/);
      assert.match(defs, /INDEX .* \(expires_at\)/);
      assert.match(defs, /INDEX .* \(user_id\) WHERE \(user_id IS NOT NULL\)/);
      assert.equal(store.createTableSql.split('\n')[0], `CREATE TABLE IF NOT EXISTS "${name}" (`);
    });

    it('stores one row per session: data as jsonb, times in ms; update merges keys in place', async () => {
      const id = generateSessionId();
      const rec = record({ user: 'ada', roles: ['admin'], n: 1.5 });
      assert.equal(await store.create(id, rec), true);
      let r = await row(id);
      assert.deepEqual(r?.data, { user: 'ada', roles: ['admin'], n: 1.5 });
      assert.equal(r?.c, String(rec.createdAt));
      assert.equal(r?.e, String(rec.expiresAt));
      assert.equal(r?.user_id, null);
      const later = Date.now() + 2 * HOUR;
      assert.equal(await store.update(id, { set: { user: 'bob' }, unset: ['roles'] }, later), true);
      r = await row(id);
      assert.deepEqual(r?.data, { user: 'bob', n: 1.5 });
      assert.equal(r?.e, String(later));
      assert.equal(await store.touch(id, later + 1), true);
      assert.equal((await row(id))?.e, String(later + 1));
      await store.destroy(id);
      assert.equal(await row(id), undefined);
    });

    it('a touch with minExtension that would move the expiry by less writes no new row version', async () => {
      const id = generateSessionId();
      const rec = record({ a: 1 });
      await store.create(id, rec);
      const version = async () =>
        (await pool.query(`SELECT xmin::text AS v FROM "${name}" WHERE id = $1`, [id])).rows[0].v;
      const first = await version();
      assert.equal(await store.touch(id, rec.expiresAt + 1000, 60_000), true);
      assert.equal(await version(), first, 'skipped: no write at all');
      assert.equal(await store.touch(id, rec.expiresAt + 60_000, 60_000), true);
      assert.notEqual(await version(), first);
      assert.equal((await row(id))?.e, String(rec.expiresAt + 60_000));
      await store.destroy(id);
      assert.equal(await store.touch(id, Date.now() + HOUR, 60_000), false);
    });

    it('concurrent creates of one id on separate connections: exactly one wins, its data stays', async () => {
      const otherPool = testPool();
      const other = new PostgresStore({ pool: otherPool, table: name, cleanupInterval: 0 });
      const id = generateSessionId();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? other : store).create(id, record({ owner: i })),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.equal((await store.get(id))?.data.owner, winner);
      await other.close();
      await otherPool.end();
    });

    it('clamps expiresAt to now + ttl', async () => {
      const short = new PostgresStore({ pool, table: name, ttl: 60, cleanupInterval: 0 });
      const id = generateSessionId();
      const before = Date.now();
      assert.equal(await short.create(id, record({ a: 1 }, { ttl: 30 * 24 * HOUR })), true);
      const got = await short.get(id);
      assert.ok(got && got.expiresAt >= before + 60_000 && got.expiresAt <= Date.now() + 60_000);
      assert.equal(await short.touch(id, Date.now() + 30 * 24 * HOUR), true);
      assert.ok(Number((await row(id))?.e) <= Date.now() + 60_000);
      await short.close();
    });

    it('create replaces an expired row (and its user binding) but never a live one', async () => {
      const id = generateSessionId();
      const now = Date.now();
      await pool.query(
        `INSERT INTO "${name}" (id, data, created_at, expires_at, user_id) VALUES ($1, '{"old":true}', $2, $2, 'u1')`,
        [id, now - 1000],
      );
      assert.equal(await store.create(id, record({ fresh: true })), true);
      const r = await row(id);
      assert.deepEqual(r?.data, { fresh: true });
      assert.equal(r?.user_id, null);
      assert.equal(await store.create(id, record({ third: true })), false);
      assert.deepEqual((await row(id))?.data, { fresh: true });
    });

    it('keeps NUL, lone surrogates and the escape shapes exact, in keys and values', async () => {
      const id = generateSessionId();
      const data = {
        'nul\0key': 'nul\0value',
        'a\ud800': 1,
        'a\udc00': 2,
        '$ssjs:k:"x"': 'looks like an escaped key',
        '$ssjs:json': { '$ssjs:json': '"looks wrapped"' },
        deep: { list: ['\0', '\udfff', { '\0': '\ud83d' }] },
        plain: 'héllo 🌍',
      };
      assert.equal(await store.create(id, record(data)), true);
      assert.deepEqual({ ...(await store.get(id))?.data }, data);
      assert.equal(
        await store.update(
          id,
          { set: { 'b\ud800': '\0' }, unset: ['a\udc00', 'nul\0key', '$ssjs:json'] },
          Date.now() + HOUR,
        ),
        true,
      );
      const { 'a\udc00': _a, 'nul\0key': _n, '$ssjs:json': _j, ...rest } = data;
      assert.deepEqual({ ...(await store.get(id))?.data }, { ...rest, 'b\ud800': '\0' });
      // Ordinary data stays ordinary JSON that SQL can query.
      assert.equal((await row(id))?.data && (await row(id))!.data!.constructor, Object);
      const plain = await pool.query(`SELECT data->>'plain' AS p FROM "${name}" WHERE id = $1`, [
        id,
      ]);
      assert.equal(plain.rows[0].p, 'héllo 🌍');
    });

    it('refuses values that are not JSON before writing anything', async () => {
      const id = generateSessionId();
      await store.create(id, record({ keep: 1 }));
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const bad of [10n, cyclic]) {
        await assert.rejects(
          store.update(id, { set: { bad: bad as never } }, Date.now() + HOUR),
          InvalidSessionDataError,
        );
        await assert.rejects(
          store.create(generateSessionId(), record({ bad })),
          InvalidSessionDataError,
        );
      }
      assert.deepEqual({ ...(await store.get(id))?.data }, { keep: 1 });
    });

    it('stores a 4 MiB value and reads it back exactly', async () => {
      const id = generateSessionId();
      const big = `${'x'.repeat(4 * 1024 * 1024 - 3)}end`;
      assert.equal(await store.create(id, record({ big, small: 1 })), true);
      assert.equal(await store.update(id, { set: { big2: big } }, Date.now() + HOUR), true);
      const got = await store.get(id);
      assert.equal(got?.data.big, big);
      assert.equal(got?.data.big2, big);
      assert.equal(got?.data.small, 1);
    });

    it('an unreadable row reads as no session, is never written to, and is reported', async () => {
      reported.length = 0;
      const now = Date.now();
      const cases: Array<[string, string, number | string]> = [
        ['"a string"', '1', now + HOUR],
        ['[1,2]', '1', now + HOUR],
        ['null', '1', now + HOUR],
        ['{"a":1}', '-5', now + HOUR],
        ['{"a":1}', '1', '9007199254740993'],
        ['{"$ssjs:k:not json":1}', '1', now + HOUR],
        ['{"x":{"$ssjs:json":5}}', '1', now + HOUR],
      ];
      const ids: string[] = [];
      for (const [data, c, e] of cases) {
        const id = generateSessionId();
        ids.push(id);
        await pool.query(
          `INSERT INTO "${name}" (id, data, created_at, expires_at) VALUES ($1, $2::jsonb, $3, $4)`,
          [id, data, c, e],
        );
      }
      for (const id of ids) {
        assert.equal(await store.get(id), undefined);
        // Non-object data is never merged into: update and touch find no session.
        if (ids.indexOf(id) < 3) {
          assert.equal(await store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
          assert.equal(await store.touch(id, Date.now() + HOUR), false);
        }
      }
      const listed: string[] = [];
      for await (const [id] of store.all()) listed.push(id);
      for (const id of ids) assert.ok(!listed.includes(id));
      assert.ok(reported.length >= ids.length, `reported ${reported.length}`);
      for (const e of reported)
        for (const id of ids) assert.doesNotMatch(e.message, new RegExp(id));
      assert.deepEqual((await row(ids[0]!))?.data, 'a string');
      await pool.query(`DELETE FROM "${name}" WHERE id = ANY($1)`, [ids]);
    });

    it('all() pages by id (keyset) through 1,234 sessions; rows under foreign ids are skipped', async () => {
      const bulkName = table('bulk');
      const bulk = new PostgresStore({ pool, table: bulkName, pageSize: 100, cleanupInterval: 0 });
      const spy = spyPool(pool);
      const spied = new PostgresStore({ pool: spy, table: bulkName, pageSize: 100 });
      await bulk.length();
      const now = Date.now();
      const ids = Array.from({ length: 1234 }, () => generateSessionId());
      await pool.query(
        `INSERT INTO "${bulkName}" (id, data, created_at, expires_at)
         SELECT id, jsonb_build_object('n', n), $2, $3 FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)`,
        [ids, now, now + HOUR],
      );
      await pool.query(
        `INSERT INTO "${bulkName}" (id, data, created_at, expires_at) VALUES ('../x', '{}', $1, $2)`,
        [now, now + HOUR],
      );
      const seen = new Map<string, number>();
      for await (const [id, rec] of spied.all()) {
        assert.ok(!seen.has(id), 'each session once');
        seen.set(id, rec.data.n as number);
      }
      assert.equal(seen.size, 1234);
      for (const [i, id] of ids.entries()) assert.equal(seen.get(id), i + 1);
      const pages = spy.queries.filter((q) => q.endsWith('_page')).length;
      assert.equal(pages, 13, 'ceil(1235 / 100) pages');
      assert.equal(await bulk.length(), 1235);
      await bulk.clear();
      assert.equal(await bulk.length(), 0);
      assert.ok((await store.length()) > 0, 'clear() touched only its own table');
      await bulk.close();
      await spied.close();
    });

    it('checks ids before any I/O; each call is one named statement on one connection', async () => {
      const spy = spyPool(pool);
      const spied = new PostgresStore({ pool: spy, table: name, cleanupInterval: 0 });
      await spied.length();
      spy.connects = 0;
      spy.queries.length = 0;
      for (const bad of HOSTILE_IDS) {
        const id = bad as string;
        for (const call of [
          () => spied.get(id),
          () => spied.create(id, record({ a: 1 })),
          () => spied.update(id, { set: { a: 1 } }, Date.now() + HOUR),
          () => spied.touch(id, Date.now() + HOUR),
          () => spied.destroy(id),
        ]) {
          await assert.rejects(call, InvalidSessionIdError);
        }
      }
      assert.equal(spy.connects, 0);
      const id = generateSessionId();
      await spied.create(id, record({ a: 1 }));
      await spied.get(id);
      await spied.update(id, { set: { b: 2 } }, Date.now() + HOUR);
      await spied.touch(id, Date.now() + HOUR);
      await spied.destroy(id);
      assert.equal(spy.connects, 5);
      assert.deepEqual(
        spy.queries.map((q) => q.replace(/^ssjs_[0-9a-f]+_/, '')),
        ['create', 'get', 'update', 'touch', 'destroy'],
      );
      await spied.close();
    });

    it('two stores on one pool, on different tables, keep their prepared statements apart', async () => {
      const other = new PostgresStore({ pool, table: table('other'), cleanupInterval: 0 });
      const id = generateSessionId();
      await other.create(id, record({ where: 'other' }));
      await store.create(id, record({ where: 'main' }));
      for (let i = 0; i < 5; i++) {
        assert.equal((await other.get(id))?.data.where, 'other');
        assert.equal((await store.get(id))?.data.where, 'main');
      }
      await other.close();
    });

    it('a schema-qualified table name works; hostile names are refused at construction', async () => {
      const schema = randomTable('schema');
      await pool.query(`CREATE SCHEMA "${schema}"`);
      try {
        const qualified = new PostgresStore({ pool, table: `${schema}.Sessions` });
        const id = generateSessionId();
        assert.equal(await qualified.create(id, record({ in: 'schema' })), true);
        const found = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."Sessions"`);
        assert.equal(found.rows[0].n, 1);
        await qualified.close();
      } finally {
        await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
      const hostile = [
        '',
        'a.b.c',
        'sessions; DROP TABLE sessions',
        'a"b',
        '"quoted"',
        'sp ace',
        '1starts_with_digit',
        'x'.repeat(64),
        'a.',
        '.a',
        'séssions',
        'a\0b',
        'a-b',
        42,
        null,
      ];
      for (const bad of hostile) {
        assert.throws(
          () => new PostgresStore({ pool, table: bad as string }),
          (e: unknown) => e instanceof InvalidOptionError && /table must be/.test(e.message),
          String(bad),
        );
      }
    });

    it('createTable: false on a missing table: a clear StoreUnavailableError, nothing created', async () => {
      const missing = table('missing');
      const noCreate = new PostgresStore({ pool, table: missing, createTable: false });
      await assert.rejects(
        noCreate.get(generateSessionId()),
        (e: unknown) =>
          e instanceof StoreUnavailableError &&
          e.message.includes(`the table ${missing} does not exist`),
      );
      const exists = await pool.query('SELECT to_regclass($1) AS t', [missing]);
      assert.equal(exists.rows[0].t, null);
      await noCreate.close();
    });

    it('writes refused by a read-only database reject with StoreWriteError and keep the state', async () => {
      const id = generateSessionId();
      await store.create(id, record({ user: 'ada' }));
      const readOnly = testPool(DATABASE_URL, {
        options: '-c default_transaction_read_only=on',
      });
      const ro = new PostgresStore({ pool: readOnly, table: name, cleanupInterval: 0 });
      try {
        for (const write of [
          () => ro.create(generateSessionId(), record({ a: 1 })),
          () => ro.update(id, { set: { user: 'eve' } }, Date.now() + HOUR),
          () => ro.touch(id, Date.now() + HOUR),
          () => ro.destroy(id),
          () => ro.clear(),
          () => ro.cleanup(),
        ]) {
          await assert.rejects(
            write,
            (e: unknown) =>
              e instanceof StoreWriteError &&
              e.code === 'STORE_WRITE_FAILED' &&
              e.message.includes('25006'),
          );
        }
        assert.equal((await ro.get(id))?.data.user, 'ada', 'reads still work');
        assert.equal((await store.get(id))?.data.user, 'ada');
      } finally {
        await ro.close();
        await readOnly.end();
      }
    });

    it('close(): the application pool stays open, an owned pool is ended, later calls reject', async () => {
      const closing = new PostgresStore({ pool, table: name });
      await closing.get(generateSessionId());
      await closing.close();
      await closing.close();
      await assert.rejects(closing.get(generateSessionId()), StoreClosedError);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);

      const owned = new PostgresStore({ connectionString: DATABASE_URL, table: name });
      await owned.get(generateSessionId());
      const before = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'session-store-js'`,
      );
      assert.ok(before.rows[0].n >= 1, 'the owned pool is connected');
      await owned.close();
      await assert.rejects(owned.get(generateSessionId()), StoreClosedError);
    });
  });
}

describe('PostgresStore: README', () => {
  it('prints the SQL that createTable runs, for both layouts', async () => {
    const readme = await readFile(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const pool = { connect: async () => ({}) as never };
    for (const layout of ['native', 'connect-pg-simple'] as const) {
      const block = new RegExp(`<!-- sql: ${layout} -->\\n\`\`\`sql\\n([\\s\\S]*?)\`\`\``).exec(
        readme,
      );
      assert.ok(block, `README has the ${layout} SQL`);
      const store = new PostgresStore({ pool, layout, cleanupInterval: 0 });
      assert.equal(block[1], `${store.createTableSql}\n`);
    }
  });
});
