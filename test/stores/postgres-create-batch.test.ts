/**
 * PostgresStore's coalesced creates: creates that arrive while one waits for a connection go
 * out together as one multi-row statement, each caller answered with its own outcome once it
 * committed. A gate in front of the pool holds the connection back, so which creates share a
 * statement is decided by the test rather than by timing. Without a reachable PostgreSQL the
 * file skips, except under CI=true or REQUIRE_PG=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { type PgPoolLike, PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { dropTable, pgSkipReason, randomTable, testPool } from '../helpers/postgres.js';
import { record } from '../helpers/records.js';

const skip = await pgSkipReason();

interface Sent {
  /** The statement's kind: `create`, `create_many`, … */
  kind: string;
  /** Rows of a multi-row create; 1 otherwise. */
  rows: number;
}

/**
 * A pool in front of `pool` whose connections are handed out only once `open()` was called (or
 * at once while open), recording what is sent; `fail(kind)` makes statements of that kind fail
 * as a broken link does.
 */
function gatedPool(pool: pg.Pool) {
  let opened = true;
  let waiting: Array<() => void> = [];
  const failing = new Set<string>();
  const sent: Sent[] = [];
  const gated = {
    sent,
    close() {
      opened = false;
    },
    open() {
      opened = true;
      const go = waiting;
      waiting = [];
      for (const release of go) release();
    },
    fail(kind: string) {
      failing.add(kind);
    },
    async connect() {
      if (!opened) await new Promise<void>((resolve) => waiting.push(resolve));
      const client = await pool.connect();
      return {
        query(config: pg.QueryConfig) {
          const kind = (config.name ?? config.text).replace(/^ssjs_[0-9a-f]+_/, '');
          const first = config.values?.[0];
          sent.push({ kind, rows: Array.isArray(first) ? first.length : 1 });
          if (failing.has(kind))
            return Promise.reject(new Error('Connection terminated unexpectedly'));
          return client.query(config);
        },
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
  return gated as typeof gated & PgPoolLike;
}

describe('PostgresStore: concurrent creates share a statement', { skip, timeout: 60_000 }, () => {
  let pool: pg.Pool;
  let name: string;
  let gate: ReturnType<typeof gatedPool>;
  let store: PostgresStore;

  before(async () => {
    pool = testPool();
    name = randomTable('batch');
    gate = gatedPool(pool);
    store = new PostgresStore({ pool: gate, table: name, cleanupInterval: 0 });
    await store.length();
  });
  after(async () => {
    await store.close();
    await dropTable(pool, name);
    await pool.end();
  });

  /** Starts `calls` while no connection is free, then frees one; what was sent meanwhile. */
  async function burst<T>(calls: Array<() => Promise<T>>): Promise<PromiseSettledResult<T>[]> {
    gate.sent.length = 0;
    gate.close();
    const settled = Promise.allSettled(calls.map((call) => call()));
    gate.open();
    return settled;
  }

  const values = <T>(results: PromiseSettledResult<T>[]) =>
    results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));

  it('creates waiting for a connection go out as one statement; every session lands and reads back', async () => {
    const ids = Array.from({ length: 40 }, () => generateSessionId());
    const results = await burst(ids.map((id, i) => () => store.create(id, record({ i }))));
    assert.deepEqual(
      values(results),
      ids.map(() => true),
    );
    assert.deepEqual(gate.sent, [{ kind: 'create_many', rows: 40 }]);
    for (const [i, id] of ids.entries()) assert.equal((await store.get(id))?.data.i, i);
  });

  it('values travel through the batch exactly: quotes, backslashes, braces, NUL, lone surrogates', async () => {
    const tricky = [
      { s: 'a "quoted" \\ back\\slash, {brace} and NULL' },
      { nul: 'x\u0000y', lone: '\ud800', emoji: '\u{1f600}', 'k\u0000ey': [1, { n: null }] },
      { '$ssjs:k:"x"': { '$ssjs:json': '"y"' }, empty: '', nested: { a: [[], {}] } },
      { big: 'x'.repeat(100_000) },
    ];
    const ids = tricky.map(() => generateSessionId());
    const results = await burst(ids.map((id, i) => () => store.create(id, record(tricky[i]))));
    assert.deepEqual(values(results), [true, true, true, true]);
    assert.deepEqual(gate.sent, [{ kind: 'create_many', rows: 4 }]);
    for (const [i, id] of ids.entries()) {
      assert.deepEqual({ ...(await store.get(id))?.data }, tricky[i]);
    }
  });

  it('a create with nothing waiting goes at once, alone, as the single-row statement', async () => {
    gate.sent.length = 0;
    assert.equal(await store.create(generateSessionId(), record({ a: 1 })), true);
    assert.deepEqual(gate.sent, [{ kind: 'create', rows: 1 }]);
  });

  it('a batch holds at most 64 rows: more become several statements', async () => {
    const ids = Array.from({ length: 150 }, () => generateSessionId());
    const results = await burst(ids.map((id) => () => store.create(id, record({ a: 1 }))));
    assert.ok(results.every((r) => r.status === 'fulfilled' && r.value === true));
    assert.deepEqual(
      gate.sent.map((s) => s.rows).sort((a, b) => b - a),
      [64, 64, 22],
    );
    assert.equal(
      (await pool.query(`SELECT count(*)::int AS n FROM "${name}" WHERE id = ANY($1)`, [ids]))
        .rows[0].n,
      150,
    );
  });

  it('one id twice in a burst behaves as two sequential creates: the later is refused, the first data stays', async () => {
    const twice = generateSessionId();
    const other = generateSessionId();
    const results = await burst([
      () => store.create(twice, record({ n: 1 })),
      () => store.create(other, record({ n: 0 })),
      () => store.create(twice, record({ n: 2 })),
      () => store.create(twice, record({ n: 3 })),
    ]);
    assert.deepEqual(values(results), [true, true, false, false]);
    assert.deepEqual(
      gate.sent.map((s) => s.kind),
      ['create_many', 'create', 'create'],
    );
    assert.equal((await store.get(twice))?.data.n, 1);
  });

  it('an id taken by a live session is refused for its caller only; an expired one is replaced', async () => {
    const live = generateSessionId();
    const expired = generateSessionId();
    assert.equal(await store.create(live, record({ owner: 'first' })), true);
    assert.equal(
      await store.create(expired, record({ owner: 'old' }, { expiresAt: Date.now() - 1000 })),
      true,
    );
    const fresh = generateSessionId();
    const results = await burst([
      () => store.create(fresh, record({ owner: 'fresh' })),
      () => store.create(live, record({ owner: 'second' })),
      () => store.create(expired, record({ owner: 'new' })),
    ]);
    assert.deepEqual(values(results), [true, false, true]);
    assert.equal(gate.sent.length, 1);
    assert.equal((await store.get(live))?.data.owner, 'first');
    assert.equal((await store.get(expired))?.data.owner, 'new');
    assert.equal((await store.get(fresh))?.data.owner, 'fresh');
  });

  it('a row PostgreSQL refuses fails only its caller: the batch is retried row by row', async () => {
    await pool.query(
      `ALTER TABLE "${name}" ADD CONSTRAINT no_forbidden CHECK (NOT data ? 'forbidden')`,
    );
    try {
      const ids = Array.from({ length: 5 }, () => generateSessionId());
      const results = await burst(
        ids.map((id, i) => () => store.create(id, record(i === 2 ? { forbidden: true } : { i }))),
      );
      const [a, b, bad, c, d] = values(results);
      assert.deepEqual([a, b, c, d], [true, true, true, true]);
      assert.ok(bad instanceof StoreUnavailableError && bad.message.includes('23514'), String(bad));
      assert.deepEqual(
        gate.sent.map((s) => s.kind),
        ['create_many', 'create', 'create', 'create', 'create', 'create'],
      );
      assert.equal(await store.get(ids[2]!), undefined);
      for (const i of [0, 1, 3, 4]) assert.equal((await store.get(ids[i]!))?.data.i, i);
    } finally {
      await pool.query(`ALTER TABLE "${name}" DROP CONSTRAINT no_forbidden`);
    }
  });

  it('a time bigint cannot hold goes alone and fails alone with StoreWriteError', async () => {
    const ids = Array.from({ length: 4 }, () => generateSessionId());
    const results = await burst(
      ids.map((id, i) => () => {
        const r = record({ i });
        if (i === 1) r.createdAt = 1e300;
        return store.create(id, r);
      }),
    );
    const [a, bad, b, c] = values(results);
    assert.deepEqual([a, b, c], [true, true, true]);
    assert.ok(bad instanceof StoreWriteError, String(bad));
    assert.deepEqual(gate.sent.map((s) => s.rows).sort(), [1, 1, 2]);
    assert.equal(await store.get(ids[1]!), undefined);
  });

  it('a batch whose link fails rejects each of its callers with StoreUnavailableError', async () => {
    const failing = gatedPool(pool);
    failing.fail('create_many');
    const broken = new PostgresStore({ pool: failing, table: name, cleanupInterval: 0 });
    try {
      await broken.length();
      failing.sent.length = 0;
      const ids = Array.from({ length: 3 }, () => generateSessionId());
      failing.close();
      const results = Promise.allSettled(ids.map((id) => broken.create(id, record({ a: 1 }))));
      failing.open();
      for (const r of await results) {
        assert.ok(r.status === 'rejected' && r.reason instanceof StoreUnavailableError);
      }
      // Sent, then once more on a fresh connection.
      assert.deepEqual(failing.sent, [
        { kind: 'create_many', rows: 3 },
        { kind: 'create_many', rows: 3 },
      ]);
      for (const id of ids) assert.equal(await store.get(id), undefined);
    } finally {
      await broken.close();
    }
  });

  it('a batch that gets no connection rejects within the bound; the next create goes out anew', async () => {
    const held = gatedPool(pool);
    const slow = new PostgresStore({
      pool: held,
      table: name,
      cleanupInterval: 0,
      statementTimeout: 50,
    });
    try {
      await slow.length();
      held.sent.length = 0;
      held.close();
      const results = await Promise.allSettled([
        slow.create(generateSessionId(), record({ a: 1 })),
        slow.create(generateSessionId(), record({ a: 2 })),
      ]);
      for (const r of results) {
        assert.ok(r.status === 'rejected' && r.reason instanceof StoreUnavailableError);
      }
      assert.deepEqual(held.sent, []);
      held.open();
      const id = generateSessionId();
      assert.equal(await slow.create(id, record({ a: 3 })), true);
      assert.equal((await store.get(id))?.data.a, 3);
    } finally {
      await slow.close();
    }
  });

  it('hundreds of concurrent creates on a small pool all land, in fewer statements than sessions', async () => {
    const small = testPool(undefined, { max: 2 });
    const counting = gatedPool(small);
    const busy = new PostgresStore({ pool: counting, table: name, cleanupInterval: 0 });
    try {
      const ids = Array.from({ length: 300 }, () => generateSessionId());
      const results = await Promise.all(ids.map((id, i) => busy.create(id, record({ i }))));
      assert.ok(results.every((created) => created === true));
      assert.ok(counting.sent.length < ids.length, `${counting.sent.length} statements`);
      const { rows } = await pool.query(
        `SELECT id, (data->>'i')::int AS i FROM "${name}" WHERE id = ANY($1)`,
        [ids],
      );
      assert.equal(rows.length, ids.length);
      for (const row of rows) assert.equal(ids[row.i], row.id);
    } finally {
      await busy.close();
      await small.end();
    }
  });
});
