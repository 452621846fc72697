/**
 * PostgresStore under faults. On the shared server (own tables, own connections only): a
 * statement stuck behind a row lock hits the server's statement_timeout, a pool without one is
 * bounded on the client side, an exhausted pool is bounded too, a trigger sleeping past the
 * timeout on a pool the store owns, and connections killed with pg_terminate_backend. On a
 * private server (initdb + pg_ctl in a temp directory, free port): PostgreSQL stopped during
 * HTTP traffic answers fast 503s and the same app recovers when it comes back; PostgreSQL down
 * at startup.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import type pg from 'pg';
import { StoreUnavailableError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { SessionManager } from '../../src/index.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { Client, type Listening, listen } from '../helpers/http.js';
import {
  DATABASE_URL,
  dropTable,
  PostgresServer,
  pgSkipReason,
  privateServerSkipReason,
  randomTable,
  testPool,
} from '../helpers/postgres.js';
import { HOUR, record } from '../helpers/records.js';
import { addSessionWriteRoutes } from '../helpers/routes.js';

const TIMEOUT = 300;
/** The client-side bound: statementTimeout + 500 ms. */
const CLIENT_BOUND = TIMEOUT + 500;
/** How late a rejection may come after its bound (event-loop and CI slack). */
const SLACK = 1500;

const skip = await pgSkipReason();
const privateSkip = skip ?? privateServerSkipReason();

/** Runs `op` and returns how long it took to settle and how. */
async function timed(op: () => Promise<unknown>): Promise<{ ms: number; error?: unknown }> {
  const started = Date.now();
  try {
    await op();
    return { ms: Date.now() - started };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

function assertUnavailable(
  result: { ms: number; error?: unknown },
  boundMs: number,
  what: string,
  message?: RegExp,
): void {
  assert.ok(
    result.error instanceof StoreUnavailableError,
    `${what}: expected StoreUnavailableError, got ${String(result.error)}`,
  );
  if (message) assert.match(result.error.message, message, what);
  assert.ok(result.ms <= boundMs + SLACK, `${what} took ${result.ms} ms`);
}

describe('PostgresStore faults on the shared server', { skip, timeout: 60_000 }, () => {
  let pool: pg.Pool;
  let table: string;
  let store: PostgresStore;
  const tag = `sst-faults-${randomBytes(4).toString('hex')}`;

  before(async () => {
    table = randomTable('faults');
    pool = testPool(DATABASE_URL, { statement_timeout: TIMEOUT, application_name: tag });
    store = new PostgresStore({ pool, table, statementTimeout: TIMEOUT, cleanupInterval: 0 });
    await store.length();
  });
  after(async () => {
    await store.close();
    await pool.end();
    const admin = testPool();
    await dropTable(admin, table);
    await admin.end();
  });

  /** Holds a row lock on session `id` from another connection until the returned release. */
  async function lockRow(id: string): Promise<() => Promise<void>> {
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM "${table}" WHERE id = $1 FOR UPDATE`, [id]);
    return async () => {
      await holder.query('ROLLBACK');
      holder.release();
    };
  }

  it('a write stuck behind a row lock hits statement_timeout: STORE_UNAVAILABLE, reads go on', async () => {
    const id = generateSessionId();
    await store.create(id, record({ n: 1 }));
    const release = await lockRow(id);
    try {
      assertUnavailable(
        await timed(() => store.update(id, { set: { n: 2 } }, Date.now() + HOUR)),
        TIMEOUT,
        'update',
        /statement timeout, SQLSTATE 57014/,
      );
      assertUnavailable(await timed(() => store.touch(id, Date.now() + HOUR)), TIMEOUT, 'touch');
      assertUnavailable(await timed(() => store.destroy(id)), TIMEOUT, 'destroy');
      // Readers never wait on a writer's row lock.
      assert.equal((await store.get(id))?.data.n, 1);
    } finally {
      await release();
    }
    assert.equal(await store.update(id, { set: { n: 3 } }, Date.now() + HOUR), true);
    assert.equal((await store.get(id))?.data.n, 3);
  });

  it('a pool without statement_timeout is bounded on the client side; its connection is discarded', async () => {
    const bare = testPool(DATABASE_URL, { application_name: `${tag}-bare` });
    const unbounded = new PostgresStore({
      pool: bare,
      table,
      statementTimeout: TIMEOUT,
      cleanupInterval: 0,
    });
    const id = generateSessionId();
    await unbounded.create(id, record({ n: 1 }));
    const release = await lockRow(id);
    try {
      assertUnavailable(
        await timed(() => unbounded.touch(id, Date.now() + HOUR)),
        CLIENT_BOUND,
        'touch without a server-side timeout',
        /did not answer within 800 ms/,
      );
      await sleep(50);
      assert.equal(bare.totalCount, 0, 'the timed-out connection was not returned to the pool');
    } finally {
      await release();
    }
    assert.equal(await unbounded.touch(id, Date.now() + HOUR), true);
    await unbounded.close();
    await bare.end();
  });

  it('an exhausted pool: waiting for a connection is bounded too', async () => {
    const tiny = testPool(DATABASE_URL, { max: 1, application_name: `${tag}-tiny` });
    const starved = new PostgresStore({
      pool: tiny,
      table,
      statementTimeout: TIMEOUT,
      cleanupInterval: 0,
    });
    await starved.length();
    const hog = await tiny.connect();
    try {
      assertUnavailable(
        await timed(() => starved.get(generateSessionId())),
        CLIENT_BOUND,
        'get with no free connection',
      );
      assertUnavailable(
        await timed(() => starved.cleanup()),
        CLIENT_BOUND,
        'a sweep with no free connection',
      );
    } finally {
      hog.release();
    }
    // The connections that came too late went straight back: the pool's one is free again.
    assert.equal(await starved.get(generateSessionId()), undefined);
    assert.equal(typeof (await starved.cleanup()), 'number');
    await starved.close();
    await tiny.end();
  });

  it('a pool the store owns carries statement_timeout: a trigger sleeping past it is cut off', async () => {
    const slow = randomTable('slow');
    const admin = testPool();
    const owned = new PostgresStore({
      connectionString: DATABASE_URL,
      table: slow,
      statementTimeout: TIMEOUT,
      cleanupInterval: 0,
    });
    try {
      const id = generateSessionId();
      await owned.create(id, record({ n: 1 }));
      await admin.query(
        `CREATE FUNCTION "${slow}_sleep"() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$`,
      );
      await admin.query(
        `CREATE TRIGGER slow BEFORE UPDATE ON "${slow}" FOR EACH ROW EXECUTE FUNCTION "${slow}_sleep"()`,
      );
      assertUnavailable(
        await timed(() => owned.update(id, { set: { n: 2 } }, Date.now() + HOUR)),
        TIMEOUT,
        'update through a sleeping trigger',
        /57014/,
      );
      assert.equal((await owned.get(id))?.data.n, 1, 'the cancelled update changed nothing');
    } finally {
      await owned.close();
      await dropTable(admin, slow);
      await admin.query(`DROP FUNCTION IF EXISTS "${slow}_sleep"()`);
      await admin.end();
    }
  });

  it('connections killed with pg_terminate_backend are replaced; the store keeps working', async () => {
    const admin = testPool();
    const id = generateSessionId();
    await store.create(id, record({ n: 0 }));
    await Promise.all(Array.from({ length: 4 }, () => store.get(id)));
    const pids = async () =>
      (
        await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [tag])
      ).rows.map((r) => r.pid as number);
    const before = await pids();
    assert.ok(before.length >= 1, 'the store holds connections');

    // Idle connections killed between requests.
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [tag],
    );
    const failures: unknown[] = [];
    for (let i = 1; i <= 20; i++) {
      const r = await timed(() => store.update(id, { set: { n: i } }, Date.now() + HOUR));
      if (r.error) failures.push(r.error);
    }
    assert.ok(failures.every((e) => e instanceof StoreUnavailableError));
    assert.ok(failures.length <= 1, `${failures.length} calls failed after the kill`);
    const n = (await store.get(id))?.data.n as number;
    assert.ok(n === 20, `last acknowledged write is there (n=${n})`);
    const afterKill = await pids();
    assert.ok(
      afterKill.every((pid) => !before.includes(pid)),
      'only new connections remain',
    );

    // A connection killed in the middle of a statement (stuck behind a row lock).
    const release = await lockRow(id);
    try {
      const stuck = timed(() => store.update(id, { set: { n: -1 } }, Date.now() + HOUR));
      await sleep(100);
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [tag],
      );
      assertUnavailable(await stuck, CLIENT_BOUND, 'update whose connection was killed');
    } finally {
      await release();
    }
    assert.equal(await store.update(id, { set: { n: 21 } }, Date.now() + HOUR), true);
    assert.equal((await store.get(id))?.data.n, 21);
    await admin.end();
  });
});

describe('PostgresStore faults on a private server', {
  skip: privateSkip,
  timeout: 180_000,
}, () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  let sm: SessionManager;
  let app: Listening;

  before(async () => {
    server = await PostgresServer.start();
    pool = testPool(server.url, {
      statement_timeout: TIMEOUT,
      connectionTimeoutMillis: TIMEOUT,
    });
    sm = new SessionManager({
      storeType: 'postgres',
      storeOptions: { pool, statementTimeout: TIMEOUT },
      secret: 'a secret of at least thirty-two characters',
    });
    const web = express();
    web.use(sm.middleware());
    addSessionWriteRoutes(web, sm);
    web.get('/anonymous', (_req, res) => {
      res.send('no session needed');
    });
    web.use(
      (
        err: { status?: number; code?: string },
        _req: express.Request,
        res: express.Response,
        _next: express.NextFunction,
      ) => {
        res.status(err.status ?? 500).json({ code: err.code ?? 'ERROR' });
      },
    );
    app = await listen(web);
  });
  after(async () => {
    await app?.close();
    await sm?.close();
    await pool?.end();
    await server?.destroy();
  });

  it('PostgreSQL stopped during traffic: fast 503s; restarted: the same app recovers, no write lost', async () => {
    const browsers = Array.from({ length: 6 }, () => new Client(app.url));
    const acknowledged = new Map<Client, number>();
    for (const b of browsers) {
      assert.equal((await b.get('/')).body, 'visits=1');
      acknowledged.set(b, 1);
    }
    let running = true;
    const outcomes: Array<{ status: number; ms: number; at: number }> = [];
    const worker = async (b: Client) => {
      while (running) {
        const started = Date.now();
        const reply = await b.get('/');
        outcomes.push({ status: reply.status, ms: Date.now() - started, at: started });
        const m = /^visits=(\d+)$/.exec(reply.body);
        if (reply.status === 200 && m) acknowledged.set(b, Number(m[1]));
        await sleep(10);
      }
    };
    const workers = browsers.map(worker);
    await sleep(300);
    const stoppedAt = Date.now();
    await server.stop('immediate');
    await sleep(CLIENT_BOUND + 300);

    // While it is down: a request with a session answers 503 fast; one without needs no store.
    const down = await browsers[0]!.get('/');
    assert.equal(down.status, 503);
    assert.equal(down.json<{ code: string }>().code, 'STORE_UNAVAILABLE');
    const fresh = new Client(app.url);
    assert.equal((await fresh.get('/anonymous')).status, 200);
    const outage = outcomes.filter((o) => o.at > stoppedAt + 100);
    assert.ok(outage.length > 0 && outage.some((o) => o.status === 503), 'the outage was seen');
    for (const o of outage) {
      assert.ok(o.status === 503 || o.status === 200, `status ${o.status} during the outage`);
      assert.ok(o.ms <= CLIENT_BOUND + SLACK, `a request took ${o.ms} ms during the outage`);
    }

    await server.restart();
    const restartedAt = Date.now();
    let recovered = false;
    while (!recovered && Date.now() - restartedAt < 15_000) {
      await sleep(100);
      recovered = outcomes.some((o) => o.at > restartedAt && o.status === 200);
    }
    assert.ok(recovered, 'traffic recovered without restarting the app');
    running = false;
    await Promise.all(workers);

    // Every acknowledged visit is still counted: the next visit is one more than the last 200.
    for (const b of browsers) {
      const reply = await b.get('/');
      assert.equal(reply.status, 200);
      assert.equal(reply.body, `visits=${acknowledged.get(b)! + 1}`);
    }
  });

  it('PostgreSQL down at startup: construction succeeds, calls fail fast, then it comes up', async () => {
    await server.stop('fast');
    const late = new PostgresStore({
      connectionString: server.url,
      table: 'late_start',
      statementTimeout: TIMEOUT,
      cleanupInterval: 0,
      onError: () => {},
    });
    try {
      for (const [name, op] of [
        ['get', () => late.get(generateSessionId())],
        ['create', () => late.create(generateSessionId(), record({ a: 1 }))],
        ['length', () => late.length()],
      ] as const) {
        assertUnavailable(await timed(op), CLIENT_BOUND, `${name} before PostgreSQL started`);
      }
      await server.restart();
      const id = generateSessionId();
      let created = false;
      for (let i = 0; i < 50 && !created; i++) {
        created = await late.create(id, record({ late: true })).catch(() => false);
        if (!created) await sleep(100);
      }
      assert.ok(created, 'the store came up with the server');
      assert.equal((await late.get(id))?.data.late, true);
    } finally {
      await late.close();
    }
  });
});
