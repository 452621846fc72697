/**
 * `layout: 'connect-pg-simple'` against the real thing: express-session with connect-pg-simple
 * creates and writes the table, and a SessionManager on PostgresStore serves the same table and
 * the same `connect.sid` cookie. Over real HTTP, each library reads and changes the sessions the
 * other wrote, and a logout on either side is final on both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import connectPgSimple from 'connect-pg-simple';
import express, { type Request } from 'express';
import session from 'express-session';
import type pg from 'pg';
import { SessionManager } from '../../src/index.js';
import { CREATED_AT_KEY } from '../../src/stores/postgres/connect-pg-simple.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { Client, type Listening, listen } from '../helpers/http.js';
import { pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';
import { h } from '../helpers/routes.js';

const HOUR = 3_600_000;
const SECRET = 'a secret of at least thirty-two characters';
const skip = await pgSkipReason();

type Bag = Record<string, unknown>;

describe("PostgresStore layout 'connect-pg-simple' with express-session + connect-pg-simple", {
  skip,
  timeout: 60_000,
}, () => {
  let pool: pg.Pool;
  let schema: string;
  let table: string;
  let qualified: string;
  let server: Listening;
  let sm: SessionManager;
  let store: PostgresStore;

  before(async () => {
    pool = testPool();
    // connect-pg-simple names its constraint and index the same for every table (session_pkey,
    // IDX_session_expire), so each run gets a schema of its own.
    schema = randomTable('cps_schema');
    table = 'session';
    qualified = `${schema}.${table}`;
    await pool.query(`CREATE SCHEMA "${schema}"`);
    const PgSession = connectPgSimple(session);
    const legacy = new PgSession({
      pool,
      schemaName: schema,
      tableName: table,
      createTableIfMissing: true,
      pruneSessionInterval: false,
    });
    store = new PostgresStore({
      pool,
      table: qualified,
      layout: 'connect-pg-simple',
      cleanupInterval: 0,
    });
    sm = new SessionManager({ store, secret: SECRET, cookieName: 'connect.sid', maxAge: HOUR });

    const app = express();
    // express-session under /es, session-store-js under /ss: one cookie (path /) for both.
    app.use(
      '/es',
      session({
        store: legacy,
        secret: SECRET,
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: HOUR },
      }),
    );
    app.get('/es/set', (req, res) => {
      (req.session as unknown as Bag)[String(req.query.k)] = String(req.query.v);
      res.json({ id: req.sessionID });
    });
    app.get('/es/get', (req, res) => {
      const { cookie, ...data } = req.session as unknown as Bag;
      res.json({ id: req.sessionID, data, cookie });
    });
    app.get('/es/logout', (req, res, next) => {
      req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
    });
    app.use('/ss', sm.middleware());
    app.get(
      '/ss/set',
      h(async (req, res) => {
        await sm.set(req, String(req.query.k), String(req.query.v));
        res.json({ id: req.sessionID });
      }),
    );
    app.get(
      '/ss/get',
      h(async (req: Request, res) => {
        const data: Bag = {};
        for (const key of String(req.query.keys ?? '').split(',')) {
          data[key] = (await sm.get(req, key)) ?? null;
        }
        res.json({ id: req.sessionID ?? null, data });
      }),
    );
    app.get(
      '/ss/logout',
      h(async (req, res) => {
        await sm.destroy(req);
        res.json({ ok: true });
      }),
    );
    server = await listen(app);
  });

  after(async () => {
    await server?.close();
    await sm?.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  const sess = async (id: string) =>
    (await pool.query(`SELECT sess FROM "${schema}"."${table}" WHERE sid = $1`, [id])).rows[0]
      ?.sess as Bag | undefined;

  it('a session written by connect-pg-simple is read and changed key-level by PostgresStore', async () => {
    const browser = new Client(server.url);
    const created = (await browser.get('/es/set?k=user&v=ada')).json<{ id: string }>();
    const cookieBefore = (await sess(created.id))?.cookie as Bag;
    assert.ok(cookieBefore, 'connect-pg-simple wrote express-session’s cookie');

    const read = (await browser.get('/ss/get?keys=user,cookie')).json<{ id: string; data: Bag }>();
    assert.equal(read.id, created.id);
    assert.deepEqual(read.data, { user: 'ada', cookie: null }, 'the cookie object is not data');
    const record = await store.get(created.id);
    assert.ok(record);
    assert.ok(record.createdAt <= Date.now() && record.createdAt > Date.now() - 60_000);
    assert.ok(Math.abs(record.expiresAt - Date.parse(String(cookieBefore.expires))) < 1000);

    await browser.get('/ss/set?k=cart&v=3');
    const row = await sess(created.id);
    assert.equal(row?.user, 'ada');
    assert.equal(row?.cart, '3');
    assert.deepEqual(
      { ...(row?.cookie as Bag), expires: undefined },
      { ...cookieBefore, expires: undefined },
      'express-session’s cookie attributes are kept',
    );
    assert.equal(
      (row?.cookie as Bag | undefined)?.expires,
      new Date((await store.get(created.id))!.expiresAt).toISOString(),
    );

    const back = (await browser.get('/es/get')).json<{ id: string; data: Bag }>();
    assert.equal(back.id, created.id);
    assert.deepEqual(back.data, { user: 'ada', cart: '3' });
    // The table is connect-pg-simple's own: PostgresStore found it and added nothing.
    const indexes = await pool.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [
      schema,
    ]);
    assert.deepEqual(indexes.rows.map((r) => r.indexname).sort(), [
      'IDX_session_expire',
      'session_pkey',
    ]);
  });

  it('a session created by PostgresStore is read and changed by express-session', async () => {
    const browser = new Client(server.url);
    const created = (await browser.get('/ss/set?k=user&v=bob')).json<{ id: string }>();
    const row = await sess(created.id);
    assert.equal(row?.user, 'bob');
    assert.equal(typeof row?.[CREATED_AT_KEY], 'number');
    const { createdAt } = (await store.get(created.id))!;

    const seen = (await browser.get('/es/get')).json<{ id: string; data: Bag; cookie: Bag }>();
    assert.equal(seen.id, created.id, 'express-session adopted the session: same id');
    assert.equal(seen.data.user, 'bob');
    assert.equal(seen.cookie.path, '/');
    assert.equal(seen.cookie.httpOnly, true);

    await browser.get('/es/set?k=role&v=admin');
    const after = (await browser.get('/ss/get?keys=user,role')).json<{ id: string; data: Bag }>();
    assert.equal(after.id, created.id);
    assert.deepEqual(after.data, { user: 'bob', role: 'admin' });
    assert.equal((await store.get(created.id))?.createdAt, createdAt, 'createdAt survives');
  });

  it('a logout on either side is final on both', async () => {
    const a = new Client(server.url);
    const first = (await a.get('/es/set?k=user&v=carol')).json<{ id: string }>();
    const jar = new Map(a.jar);
    await a.get('/ss/logout');
    assert.equal(await sess(first.id), undefined);
    const stale = new Client(server.url, new Map(jar));
    const esView = (await stale.get('/es/get')).json<{ id: string; data: Bag }>();
    assert.notEqual(esView.id, first.id, 'express-session starts a new session');
    assert.deepEqual(esView.data, {});

    const b = new Client(server.url);
    const second = (await b.get('/ss/set?k=user&v=dave')).json<{ id: string }>();
    const jar2 = new Map(b.jar);
    await b.get('/es/logout');
    assert.equal(await sess(second.id), undefined);
    const replay = new Client(server.url, jar2);
    assert.deepEqual((await replay.get('/ss/get?keys=user')).json(), {
      id: null,
      data: { user: null },
    });
    // A late write through the old cookie does not bring the session back.
    const late = await new Client(server.url, new Map(jar2)).get('/ss/set?k=user&v=eve');
    assert.notEqual(late.json<{ id: string }>().id, second.id);
    assert.equal(await sess(second.id), undefined);
  });

  it('a data key named cookie never clashes with express-session’s cookie', async () => {
    const browser = new Client(server.url);
    const { id } = (await browser.get('/ss/set?k=cookie&v=chocolate')).json<{ id: string }>();
    const seen = (await browser.get('/es/get')).json<{ id: string; cookie: Bag }>();
    assert.equal(seen.id, id);
    assert.equal(seen.cookie.path, '/', 'express-session still finds its cookie object');
    assert.deepEqual((await browser.get('/ss/get?keys=cookie')).json<{ data: Bag }>().data, {
      cookie: 'chocolate',
    });
  });

  it('all(), length() and cleanup work on the shared table', async () => {
    const ids = new Set<string>();
    for await (const [id] of store.all()) ids.add(id);
    assert.ok(ids.size >= 3);
    assert.equal(await store.length(), ids.size);
    const { rows } = await pool.query(`SELECT sid FROM "${schema}"."${table}" LIMIT 1`);
    await pool.query(
      `UPDATE "${schema}"."${table}" SET expire = now() - interval '1 minute' WHERE sid = $1`,
      [rows[0].sid],
    );
    assert.equal(await store.cleanup(), 1);
    assert.equal(await store.length(), ids.size - 1);
  });
});
