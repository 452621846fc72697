/**
 * PostgresStore input and error handling: malformed records and changes refused before any I/O,
 * a pool that throws, odd rows in connect-pg-simple's table, a dropped connection of a pool the
 * store owns, option validation, and how database errors map to the library's errors.
 * The database parts skip without a reachable PostgreSQL, except under CI=true or REQUIRE_PG=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import {
  InvalidOptionError,
  InvalidSessionDataError,
  StoreUnavailableError,
  StoreWriteError,
} from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { isRetryable, toStoreError } from '../../src/stores/postgres/pool.js';
import {
  PostgresStore,
  type PostgresStoreOptions,
} from '../../src/stores/postgres/postgres-store.js';
import type { SessionRecord } from '../../src/types.js';
import {
  DATABASE_URL,
  dropTable,
  pgSkipReason,
  randomTable,
  testPool,
} from '../helpers/postgres.js';

const HOUR = 3_600_000;
const TEST_TIMEOUT = 60_000;
const skip = await pgSkipReason();

function record(data: Record<string, unknown>, ttl = HOUR): SessionRecord {
  const now = Date.now();
  return { data: Object.assign(Object.create(null), data), createdAt: now, expiresAt: now + ttl };
}

describe('PostgresStore: edge cases', { skip, timeout: TEST_TIMEOUT }, () => {
  let pool: pg.Pool;
  const made: string[] = [];
  before(() => {
    pool = testPool();
  });
  after(async () => {
    for (const t of made) await dropTable(pool, t);
    await pool.end();
  });

  it('refuses malformed records and changes with InvalidSessionDataError, before any I/O', async () => {
    let connects = 0;
    const store = new PostgresStore({
      pool: {
        connect() {
          connects++;
          return pool.connect();
        },
      },
      table: 'never_created',
      cleanupInterval: 0,
    });
    const id = generateSessionId();
    const now = Date.now();
    for (const call of [
      () => store.create(id, { data: 'x' as never, createdAt: now, expiresAt: now + HOUR }),
      () => store.create(id, { data: [] as never, createdAt: now, expiresAt: now + HOUR }),
      () => store.create(id, { data: Object.create(null), createdAt: Number.NaN, expiresAt: now }),
      () => store.update(id, { unset: 'a' as never }, now + HOUR),
      () => store.update(id, { unset: [1 as never] }, now + HOUR),
      () => store.touch(id, Number.POSITIVE_INFINITY),
    ]) {
      await assert.rejects(call, InvalidSessionDataError);
    }
    assert.equal(connects, 0);
    await store.close();
  });

  it('values JSON cannot hold are refused; stored escapes that are malformed read as no session', async () => {
    const table = randomTable('codec_edge');
    made.push(table);
    const reported: Error[] = [];
    const store = new PostgresStore({
      pool,
      table,
      cleanupInterval: 0,
      onError: (e) => reported.push(e),
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const value of [10n, circular]) {
      await assert.rejects(
        store.create(generateSessionId(), record({ value })),
        InvalidSessionDataError,
      );
    }
    // Keys whose value JSON leaves out are not stored; a null set changes nothing.
    const id = generateSessionId();
    assert.equal(await store.create(id, record({ a: 1, gone: undefined })), true);
    assert.equal(await store.update(id, { set: null as never }, Date.now() + HOUR), true);
    assert.deepEqual({ ...(await store.get(id))?.data }, { a: 1 });
    const malformed = [
      '{"$ssjs:k:not json": 1}',
      '{"$ssjs:k:5": 1}',
      '{"a": {"$ssjs:json": 5}}',
      '{"a": {"$ssjs:json": "{not json"}}',
    ];
    for (const data of malformed) {
      const sid = generateSessionId();
      await pool.query(
        `INSERT INTO "${table}" (id, data, created_at, expires_at) VALUES ($1, $2::jsonb, $3, $4)`,
        [sid, data, Date.now(), Date.now() + HOUR],
      );
      assert.equal(await store.get(sid), undefined, data);
    }
    assert.equal(reported.length, malformed.length);
    await store.close();
  });

  it('a pool whose connect() throws is a StoreUnavailableError, not a crash', async () => {
    const store = new PostgresStore({
      pool: {
        connect() {
          throw new Error('pool is broken');
        },
      },
      cleanupInterval: 0,
    });
    await assert.rejects(
      store.get(generateSessionId()),
      (e: unknown) => e instanceof StoreUnavailableError && /pool is broken/.test(e.message),
    );
    await store.close();
    // The same for a sweep, which holds its connection for several statements.
    const sweeper = new PostgresStore({
      pool: { connect: () => Promise.reject(new Error('pool is broken')) },
      createTable: false,
      cleanupInterval: 0,
    });
    await assert.rejects(
      sweeper.cleanup(),
      (e: unknown) => e instanceof StoreUnavailableError && /pool is broken/.test(e.message),
    );
    await sweeper.close();
  });

  it('connect-pg-simple rows without a cookie or a creation time, or with a broken one, read safely', async () => {
    const table = randomTable('cps_edge');
    made.push(table);
    const reported: Error[] = [];
    const store = new PostgresStore({
      pool,
      table,
      layout: 'connect-pg-simple',
      ttl: 600,
      cleanupInterval: 0,
      onError: (e) => reported.push(e),
    });
    await store.length();
    const insert = (sid: string, sess: string, expiresInMs: number) =>
      pool.query(
        `INSERT INTO "${table}" (sid, sess, expire) VALUES ($1, $2::json, to_timestamp($3::float8 / 1000))`,
        [sid, sess, Date.now() + expiresInMs],
      );
    const bare = generateSessionId();
    await insert(bare, '{"user":"ada"}', 300_000);
    const got = await store.get(bare);
    assert.deepEqual({ ...got?.data }, { user: 'ada' });
    // No cookie to derive it from: the expiry minus ttl, never later than now.
    assert.ok(got && Math.abs(got.createdAt - (got.expiresAt - 600_000)) < 5);
    const soon = generateSessionId();
    await insert(soon, '{"cookie":{"expires":"not a date","originalMaxAge":5},"a":1}', 3_000_000);
    const late = await store.get(soon);
    assert.ok(late && late.createdAt <= Date.now(), 'a derived createdAt is never in the future');
    // A cookie that is not an object is replaced by one holding the new expiry.
    const odd = generateSessionId();
    await insert(odd, '{"cookie":"odd","a":1}', 300_000);
    const expiresAt = Date.now() + 200_000;
    assert.equal(await store.touch(odd, expiresAt), true);
    const row = await pool.query(`SELECT sess FROM "${table}" WHERE sid = $1`, [odd]);
    assert.deepEqual(row.rows[0].sess.cookie, { expires: new Date(expiresAt).toISOString() });
    // Unsetting the data key `cookie` removes ours, never express-session's.
    const mine = generateSessionId();
    assert.equal(await store.create(mine, record({ cookie: 'chocolate', b: 2 })), true);
    assert.equal(await store.update(mine, { unset: ['cookie'] }, Date.now() + HOUR), true);
    const after = await pool.query(`SELECT sess FROM "${table}" WHERE sid = $1`, [mine]);
    assert.equal(typeof after.rows[0].sess.cookie, 'object');
    assert.deepEqual({ ...(await store.get(mine))?.data }, { b: 2 });
    // A sess that is not an object is no session, and is reported.
    const broken = generateSessionId();
    await insert(broken, '[1,2,3]', 300_000);
    assert.equal(await store.get(broken), undefined);
    assert.equal(await store.touch(broken, Date.now() + HOUR), false);
    assert.equal(reported.length, 1);
    await store.close();
  });

  for (const type of ['text', 'jsonb']) {
    it(`connect-pg-simple's table made by hand with sess ${type} (nullable): sessions work, odd rows read as none`, async () => {
      const table = randomTable(`cps_${type}`);
      made.push(table);
      await pool.query(
        `CREATE TABLE "${table}" (sid varchar PRIMARY KEY, sess ${type}, expire timestamp(6) NOT NULL)`,
      );
      const reported: Error[] = [];
      const store = new PostgresStore({
        pool,
        table,
        layout: 'connect-pg-simple',
        createTable: false,
        cleanupInterval: 0,
        onError: (e) => reported.push(e),
      });
      const id = generateSessionId();
      assert.equal(await store.create(id, record({ a: 1 })), true);
      assert.equal(
        await store.update(id, { set: { b: 2 }, unset: ['a'] }, Date.now() + HOUR),
        true,
      );
      assert.equal(await store.touch(id, Date.now() + HOUR), true);
      assert.deepEqual({ ...(await store.get(id))?.data }, { b: 2 });
      const stored = await pool.query(`SELECT sess::json AS s FROM "${table}" WHERE sid = $1`, [
        id,
      ]);
      assert.equal(typeof stored.rows[0].s.cookie?.expires, 'string');
      const odd = type === 'text' ? ['not json', null] : [null];
      for (const sess of odd) {
        const sid = generateSessionId();
        await pool.query(
          `INSERT INTO "${table}" (sid, sess, expire) VALUES ($1, $2, now() + interval '1 hour')`,
          [sid, sess],
        );
        assert.equal(await store.get(sid), undefined);
      }
      assert.equal(reported.length, odd.length, 'each unreadable row is reported');
      await store.close();
    });
  }

  it('an idle connection of a pool the store owns dies: reported once to onError, then replaced', async () => {
    const table = randomTable('owned');
    made.push(table);
    const reported: Error[] = [];
    const store = new PostgresStore({
      connectionString: DATABASE_URL,
      table,
      cleanupInterval: 0,
      onError: (e) => reported.push(e),
    });
    await store.get(generateSessionId());
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'session-store-js' AND query LIKE $1`,
      [`%"${table}"%`],
    );
    for (let i = 0; i < 50 && reported.length === 0; i++) await sleep(20);
    assert.equal(reported.length, 1, 'the dropped connection was reported');
    assert.equal(await store.get(generateSessionId()), undefined, 'and the store still works');
    await store.close();
  });
});

describe('PostgresStore: options', () => {
  const pool = { connect: async () => ({}) as never };
  const cases: Array<[string, PostgresStoreOptions, RegExp]> = [
    ['no pool', {}, /exactly one of pool .* and connectionString, got "neither"/],
    ['both', { pool, connectionString: 'postgres://x' }, /exactly one of pool.*, got "both"/],
    ['bad pool', { pool: {} as never }, /pool must be a node-postgres Pool .*, got an object/],
    [
      'bad url',
      { connectionString: 'mysql://user:secret@x' },
      /connectionString must be a string starting .*, got another string$/,
    ],
    [
      'layout',
      { pool, layout: 'mongo' as never },
      /layout must be 'native' or 'connect-pg-simple'/,
    ],
    ['createTable', { pool, createTable: 'yes' as never }, /createTable must be a boolean/],
    ['ttl', { pool, ttl: 0 }, /ttl must be a number of seconds above 0 .*, got 0/],
    ['interval', { pool, cleanupInterval: 10 }, /cleanupInterval must be 0 \(off\) or .*, got 10/],
    ['batch', { pool, cleanupBatchSize: 0 }, /cleanupBatchSize must be an integer from 1/],
    ['page', { pool, pageSize: 1.5 }, /pageSize must be an integer from 1/],
    ['timeout', { pool, statementTimeout: -1 }, /statementTimeout must be an integer .* from 1/],
    ['onError', { pool, onError: 'x' as never }, /onError must be a function, got "x"/],
  ];
  for (const [what, options, message] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => new PostgresStore(options),
        (e: unknown) =>
          e instanceof InvalidOptionError &&
          e.message.startsWith('session-store-js: ') &&
          message.test(e.message),
      );
    });
  }

  it('accepts a pool with defaults and does no I/O at construction', async () => {
    let connects = 0;
    const store = new PostgresStore({
      pool: {
        connect: async () => {
          connects++;
          throw new Error('no');
        },
      },
    });
    assert.equal(store.table, 'sessions');
    assert.equal(store.layout, 'native');
    assert.equal(store.ttl, 86400);
    assert.equal(store.cleanupInterval, 600000);
    assert.equal(store.statementTimeout, 2000);
    assert.equal(
      new PostgresStore({ pool, layout: 'connect-pg-simple', cleanupInterval: 0 }).table,
      'session',
    );
    assert.equal(connects, 0);
    await store.close();
  });
});

describe('PostgresStore: how database errors are reported', () => {
  const server = (code: string) =>
    Object.assign(new Error(`server text that may echo a value ${code}`), {
      code,
      severity: 'ERROR',
    });
  const cases: Array<
    [string, unknown, boolean, typeof StoreWriteError | typeof StoreUnavailableError, RegExp]
  > = [
    ['read-only transaction', server('25006'), true, StoreWriteError, /SQLSTATE 25006/],
    ['disk full', server('53100'), true, StoreWriteError, /SQLSTATE 53100/],
    ['out of memory', server('53200'), true, StoreWriteError, /SQLSTATE 53200/],
    ['value too large', server('54000'), true, StoreWriteError, /SQLSTATE 54000/],
    ['bad data', server('22P05'), true, StoreWriteError, /SQLSTATE 22P05/],
    ['too many connections', server('53300'), true, StoreUnavailableError, /SQLSTATE 53300/],
    ['read-only on a read', server('25006'), false, StoreUnavailableError, /SQLSTATE 25006/],
    ['statement timeout', server('57014'), true, StoreUnavailableError, /statement timeout/],
    ['shutting down', server('57P01'), false, StoreUnavailableError, /SQLSTATE 57P01/],
    [
      'missing table',
      server('42P01'),
      false,
      StoreUnavailableError,
      /does not exist .*createTable/,
    ],
    ['missing schema', server('3F000'), false, StoreUnavailableError, /does not exist/],
    [
      'refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      false,
      StoreUnavailableError,
      /unavailable \(connect ECONNREFUSED\)/,
    ],
    ['not an Error', 'boom', false, StoreUnavailableError, /unavailable \(boom\)/],
  ];
  for (const [what, error, write, type, message] of cases) {
    it(`${what} → ${type.name}`, () => {
      const mapped = toStoreError(error, write, 'sessions');
      assert.ok(mapped instanceof type, `${what}: got ${mapped.constructor.name}`);
      assert.match(mapped.message, message);
      assert.doesNotMatch(mapped.message, /server text/, 'the server text is not repeated');
      assert.equal((mapped as StoreWriteError).cause, error);
    });
  }

  it('retries on a fresh connection only when the link broke or a transaction lost a race', () => {
    assert.equal(isRetryable(server('57P01')), true);
    assert.equal(isRetryable(server('08006')), true);
    assert.equal(isRetryable(server('40P01')), true);
    assert.equal(isRetryable(server('40001')), true);
    assert.equal(isRetryable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isRetryable(server('57014')), false);
    assert.equal(isRetryable(server('25006')), false);
    assert.equal(isRetryable(new StoreUnavailableError('timed out')), false);
  });
});
