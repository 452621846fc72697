/**
 * The store compliance suite: the same behaviour, asserted on every store.
 * A store's test file calls `describeStore(name, factory)` and then adds what is specific to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidSessionIdError, NotSupportedError, StoreClosedError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import type { SessionRecord, SessionStore, StoreCapabilities } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';

export interface StoreFixture {
  store: SessionStore;
  /** Removes everything the fixture created (directories, keys). */
  cleanup(): Promise<void>;
  /**
   * Another store on the same backend (directory, key prefix, table), for stores whose sessions
   * outlive the store object: the suite then checks that sessions survive `close()` and are read
   * by the next store, as after a restart. Absent for stores that keep sessions in the process.
   */
  reopen?(): SessionStore;
}

/** The optional listing methods a store may lack (a wrapped express-session store). */
export type OptionalMethod = 'all' | 'length' | 'clear';

/** What a store declares about itself; the suite marks what it does not guarantee. */
export interface StoreExpectations {
  /** Its `capabilities`, asserted; a guarantee held per process only is named in the test title. */
  capabilities?: StoreCapabilities;
  /** Methods it lacks: they must reject with `NotSupportedError`; the listing test is skipped. */
  unsupported?: readonly OptionalMethod[];
}

type Guarantee = 'atomicCreate' | 'keyLevelUpdate' | 'noResurrection';

/**
 * `it` for a test of `guarantee`: skipped with the reason when the store lacks it, and titled
 * as such when the store holds it within one process only.
 */
function itFor(capabilities: StoreCapabilities | undefined, guarantee: Guarantee) {
  return (title: string, fn: () => Promise<void>) => {
    const level = capabilities ? capabilities[guarantee] : true;
    if (level === false) it.skip(`${title} (not guaranteed: ${guarantee} is false)`, fn);
    else if (level === 'process') it(`${title} (${guarantee} holds within this process only)`, fn);
    else it(title, fn);
  };
}

export const HOSTILE_IDS: unknown[] = [
  '',
  ' ',
  '.',
  '..',
  '../a',
  '../../../../etc/passwd',
  'a/b',
  'a\\b',
  '/abs',
  'C:\\x',
  'x\0y',
  'CON',
  'nul.json',
  '%2e%2e%2f',
  'a'.repeat(300),
  '__proto__',
  'constructor',
  `${'a'.repeat(30)}.json`,
  `${'a'.repeat(30)}\n`,
  123,
  null,
  undefined,
  {},
  ['a'],
];

function plain(data: object): Record<string, unknown> {
  return { ...data };
}

export function describeStore(
  name: string,
  factory: () => Promise<StoreFixture>,
  expectations: StoreExpectations = {},
): void {
  const { capabilities, unsupported = [] } = expectations;
  const atomic = itFor(capabilities, 'atomicCreate');
  const keyLevel = itFor(capabilities, 'keyLevelUpdate');
  const noRevive = itFor(capabilities, 'noResurrection');
  describe(`${name}: store contract`, () => {
    let fixture: StoreFixture;
    let store: SessionStore;

    before(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    after(async () => {
      await store.close();
      await fixture.cleanup();
    });

    it('get of an unknown id resolves undefined', async () => {
      assert.equal(await store.get(generateSessionId()), undefined);
    });

    it('create then get returns the same data and times', async () => {
      const id = generateSessionId();
      const rec = record({ user: 'ada', n: 1, nested: { list: [1, 'two', null, true] } });
      assert.equal(await store.create(id, rec), true);
      const got = await store.get(id);
      assert.ok(got);
      assert.deepEqual(plain(got.data), {
        user: 'ada',
        n: 1,
        nested: { list: [1, 'two', null, true] },
      });
      assert.equal(got.createdAt, rec.createdAt);
      assert.equal(got.expiresAt, rec.expiresAt);
    });

    it('returns data with a null prototype', async () => {
      const id = generateSessionId();
      await store.create(id, record({ a: 1 }));
      const got = await store.get(id);
      assert.ok(got);
      assert.equal(Object.getPrototypeOf(got.data), null);
    });

    it('copies data in and out: callers cannot mutate stored state by reference', async () => {
      const id = generateSessionId();
      const rec = record({ obj: { x: 1 } });
      await store.create(id, rec);
      (rec.data.obj as Record<string, number>).x = 99;
      rec.data.added = true;
      const first = await store.get(id);
      assert.ok(first);
      assert.deepEqual(plain(first.data), { obj: { x: 1 } });
      (first.data.obj as Record<string, number>).x = 42;
      const second = await store.get(id);
      assert.ok(second);
      assert.deepEqual(plain(second.data), { obj: { x: 1 } });
    });

    atomic('create refuses an id that is already live and keeps the original', async () => {
      const id = generateSessionId();
      assert.equal(await store.create(id, record({ owner: 'first' })), true);
      assert.equal(await store.create(id, record({ owner: 'second' })), false);
      const got = await store.get(id);
      assert.equal(got?.data.owner, 'first');
    });

    noRevive('update of a missing session resolves false and creates nothing', async () => {
      const id = generateSessionId();
      assert.equal(await store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
      assert.equal(await store.get(id), undefined);
    });

    it('update changes only the named keys and moves the expiry', async () => {
      const id = generateSessionId();
      await store.create(id, record({ keep: 'k', change: 1, drop: 'd' }));
      const expiresAt = Date.now() + 2 * HOUR;
      assert.equal(
        await store.update(id, { set: { change: 2, add: [1] }, unset: ['drop'] }, expiresAt),
        true,
      );
      const got = await store.get(id);
      assert.ok(got);
      assert.deepEqual(plain(got.data), { keep: 'k', change: 2, add: [1] });
      assert.equal(got.expiresAt, expiresAt);
    });

    keyLevel('concurrent updates of different keys of one session all land', async () => {
      const id = generateSessionId();
      await store.create(id, record({}));
      const expiresAt = Date.now() + HOUR;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.update(id, { set: { [`k${i}`]: i } }, expiresAt),
        ),
      );
      assert.ok(results.every((r) => r === true));
      const got = await store.get(id);
      assert.ok(got);
      for (let i = 0; i < 50; i++) assert.equal(got.data[`k${i}`], i, `key k${i} was lost`);
    });

    noRevive(
      'touch moves the expiry and keeps the data; touch of a missing id creates nothing',
      async () => {
        const id = generateSessionId();
        const rec = record({ a: 'b' });
        await store.create(id, rec);
        const expiresAt = rec.expiresAt + HOUR;
        assert.equal(await store.touch(id, expiresAt), true);
        const got = await store.get(id);
        assert.equal(got?.expiresAt, expiresAt);
        assert.equal(got?.data.a, 'b');
        const missing = generateSessionId();
        assert.equal(await store.touch(missing, Date.now() + HOUR), false);
        assert.equal(await store.get(missing), undefined);
      },
    );

    it('touch with minExtension leaves an expiry it would move by less, and still says live', async (t) => {
      // A store whose touch takes no third parameter ignores it (it only writes more).
      if (store.touch.length < 3) return t.skip('this store has no conditional touch');
      const id = generateSessionId();
      const rec = record({ a: 'b' });
      await store.create(id, rec);
      assert.equal(await store.touch(id, rec.expiresAt + 1000, 5000), true);
      assert.equal((await store.get(id))?.expiresAt, rec.expiresAt);
      assert.equal(await store.touch(id, rec.expiresAt + 5000, 5000), true);
      assert.equal((await store.get(id))?.expiresAt, rec.expiresAt + 5000);
      assert.equal(await store.touch(generateSessionId(), Date.now() + HOUR, 5000), false);
    });

    describe('move (optional tier)', () => {
      const times = (forward = HOUR) => {
        const now = Date.now();
        return { createdAt: now, expiresAt: now + HOUR, forwardUntil: now + forward };
      };

      it('carries what is stored now to the new id and ends the old one', async (t) => {
        if (!store.move) return t.skip('this store has no move');
        const oldId = generateSessionId();
        await store.create(oldId, record({ user: 'ada', cart: 1 }));
        await store.update(oldId, { set: { cart: 2 } }, Date.now() + HOUR);
        const newId = generateSessionId();
        const move = { keep: true as const, ...times() };
        const result = await store.move(oldId, newId, move);
        assert.equal(result.status, 'moved');
        assert.deepEqual(plain((result as { data: object }).data), { user: 'ada', cart: 2 });
        const moved = await store.get(newId);
        assert.deepEqual(plain(moved?.data ?? {}), { user: 'ada', cart: 2 });
        assert.equal(moved?.createdAt, move.createdAt);
        assert.equal(moved?.expiresAt, move.expiresAt);
        assert.equal(await store.get(oldId), undefined);
        assert.equal(await store.update(oldId, { set: { a: 1 } }, Date.now() + HOUR), false);
        assert.equal(await store.touch(oldId, Date.now() + HOUR), false);
        assert.equal(await store.get(oldId), undefined);
      });

      it('keeps only the listed keys', async (t) => {
        if (!store.move) return t.skip('this store has no move');
        const oldId = generateSessionId();
        await store.create(oldId, record({ user: 'ada', csrf: 'x', theme: 'dark' }));
        const newId = generateSessionId();
        const result = await store.move(oldId, newId, { keep: ['theme', 'absent'], ...times() });
        assert.deepEqual(plain((result as { data: object }).data), { theme: 'dark' });
        assert.deepEqual(plain((await store.get(newId))?.data ?? {}), { theme: 'dark' });
      });

      it('a destroyed or unknown session is not moved and nothing is created', async (t) => {
        if (!store.move) return t.skip('this store has no move');
        const oldId = generateSessionId();
        await store.create(oldId, record({ user: 'ada' }));
        await store.destroy(oldId);
        const newId = generateSessionId();
        assert.deepEqual(await store.move(oldId, newId, { keep: true, ...times() }), {
          status: 'missing',
        });
        assert.equal(await store.get(newId), undefined);
        assert.equal(await store.get(oldId), undefined);
      });

      it('a live new id is a collision: nothing changes', async (t) => {
        if (!store.move) return t.skip('this store has no move');
        const oldId = generateSessionId();
        const newId = generateSessionId();
        await store.create(oldId, record({ owner: 'old' }));
        await store.create(newId, record({ owner: 'other' }));
        assert.deepEqual(await store.move(oldId, newId, { keep: true, ...times() }), {
          status: 'collision',
        });
        assert.equal((await store.get(oldId))?.data.owner, 'old');
        assert.equal((await store.get(newId))?.data.owner, 'other');
      });

      it('destroying the old id within the forward ends the new session too', async (t) => {
        if (!store.move) return t.skip('this store has no move');
        const oldId = generateSessionId();
        await store.create(oldId, record({ user: 'ada' }));
        const newId = generateSessionId();
        await store.move(oldId, newId, { keep: true, ...times() });
        await store.destroy(oldId);
        assert.equal(await store.get(newId), undefined);
        // Once the forward has run out, destroying the old id leaves the new session alone.
        const lateOld = generateSessionId();
        await store.create(lateOld, record({ user: 'bob' }));
        const lateNew = generateSessionId();
        await store.move(lateOld, lateNew, { keep: true, ...times(40) });
        await sleep(60);
        await store.destroy(lateOld);
        assert.equal((await store.get(lateNew))?.data.user, 'bob');
      });
    });

    noRevive('destroy removes the session, is idempotent, and nothing resurrects it', async () => {
      const id = generateSessionId();
      await store.create(id, record({ a: 1 }));
      await store.destroy(id);
      await store.destroy(id);
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.update(id, { set: { a: 2 } }, Date.now() + HOUR), false);
      assert.equal(await store.touch(id, Date.now() + HOUR), false);
      assert.equal(await store.get(id), undefined);
    });

    it('an expired session is absent for get, update and touch, and can be created again', async () => {
      const id = generateSessionId();
      await store.create(id, record({ old: true }, { ttl: 40 }));
      await sleep(80);
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
      assert.equal(await store.touch(id, Date.now() + HOUR), false);
      assert.equal(await store.create(id, record({ fresh: true })), true);
      const got = await store.get(id);
      assert.ok(got);
      assert.deepEqual(plain(got.data), { fresh: true });
    });

    it('stores unicode, escapes and lone surrogates faithfully', async () => {
      const id = generateSessionId();
      const value = 'héllo 🌍 "quoted" \\ \n \u2028 \ud800';
      await store.create(id, record({ s: value, k: { ключ: 'значение' } }));
      const got = await store.get(id);
      assert.equal(got?.data.s, value);
      assert.deepEqual(got?.data.k, { ключ: 'значение' });
    });

    it('keeps a __proto__ key inert as data', async () => {
      const id = generateSessionId();
      const data = JSON.parse('{"__proto__":{"isAdmin":true},"x":1}') as Record<string, unknown>;
      await store.create(id, record(data));
      const got = await store.get(id);
      assert.ok(got);
      assert.equal((got.data as Record<string, unknown>).isAdmin, undefined);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
      assert.equal(got.data.x, 1);
    });

    if (capabilities) {
      it('states its capabilities', () => {
        assert.deepEqual(store.capabilities, capabilities);
      });
    }

    for (const method of unsupported) {
      it(`${method}() rejects with NotSupportedError naming it (the store has none)`, async () => {
        const call =
          method === 'all'
            ? () => store.all()[Symbol.asyncIterator]().next()
            : () => store[method]();
        await assert.rejects(
          call,
          (err: unknown) =>
            err instanceof NotSupportedError &&
            err.code === 'NOT_SUPPORTED' &&
            err.message.includes(`${method}()`),
        );
      });
    }

    it('all() streams the live sessions with their ids; length and clear agree', async (t) => {
      if (unsupported.length > 0) {
        t.skip(`not supported: the store has no ${unsupported.join(', ')}`);
        return;
      }
      await store.clear();
      const ids = Array.from({ length: 5 }, () => generateSessionId());
      for (const [i, id] of ids.entries()) await store.create(id, record({ i }));
      const shortLived = generateSessionId();
      await store.create(shortLived, record({ gone: true }, { ttl: 30 }));
      await sleep(60);
      const seen = new Map<string, SessionRecord>();
      for await (const [id, rec] of store.all()) seen.set(id, rec);
      assert.deepEqual([...seen.keys()].sort(), [...ids].sort());
      for (const [i, id] of ids.entries()) assert.equal(seen.get(id)?.data.i, i);
      assert.ok((await store.length()) >= 5);
      await store.clear();
      assert.equal(await store.length(), 0);
      for (const id of ids) assert.equal(await store.get(id), undefined);
      let count = 0;
      for await (const _ of store.all()) count++;
      assert.equal(count, 0);
    });

    it('rejects hostile ids in every method with InvalidSessionIdError', async () => {
      const rec = record({ a: 1 });
      for (const bad of HOSTILE_IDS) {
        const id = bad as string;
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get(id)],
          ['create', () => store.create(id, rec)],
          ['update', () => store.update(id, { set: { a: 2 } }, Date.now() + HOUR)],
          ['touch', () => store.touch(id, Date.now() + HOUR)],
          ['destroy', () => store.destroy(id)],
        ];
        for (const [method, call] of calls) {
          await assert.rejects(
            call,
            (err: unknown) =>
              err instanceof InvalidSessionIdError && err.code === 'INVALID_SESSION_ID',
            `${method}(${JSON.stringify(String(bad)).slice(0, 40)}) was not rejected`,
          );
        }
      }
    });

    it('after close() every method rejects with StoreClosedError, and close() again resolves', async () => {
      const extra = await factory();
      const closing = extra.store;
      const id = generateSessionId();
      await closing.create(id, record({ kept: true }));
      await closing.close();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', () => closing.get(id)],
        ['create', () => closing.create(generateSessionId(), record({}))],
        ['update', () => closing.update(id, { set: { a: 1 } }, Date.now() + HOUR)],
        ['touch', () => closing.touch(id, Date.now() + HOUR)],
        ['destroy', () => closing.destroy(id)],
        ['all', () => closing.all()[Symbol.asyncIterator]().next()],
        ['length', () => closing.length()],
        ['clear', () => closing.clear()],
      ];
      try {
        for (const [method, call] of calls) {
          if ((unsupported as readonly string[]).includes(method)) continue;
          await assert.rejects(
            call,
            (err: unknown) => err instanceof StoreClosedError && err.code === 'STORE_CLOSED',
            `${method}() after close() did not reject with StoreClosedError`,
          );
        }
        await closing.close();
        if (extra.reopen) {
          // What a closed store held is still there for the next store on the same backend.
          const next = extra.reopen();
          try {
            assert.equal((await next.get(id))?.data.kept, true);
          } finally {
            await next.close();
          }
        }
      } finally {
        await extra.cleanup();
      }
    });

    it('a session written by one store is read by the next store on the same backend', async (t) => {
      if (!fixture.reopen)
        return t.skip('sessions live in the store object (no backend to reopen)');
      const id = generateSessionId();
      await store.create(id, record({ visits: 1 }));
      assert.equal(await store.update(id, { set: { visits: 2 } }, Date.now() + HOUR), true);
      const next = fixture.reopen();
      try {
        assert.equal((await next.get(id))?.data.visits, 2);
        await next.destroy(id);
        assert.equal(await store.get(id), undefined, 'a destroy by the next store is seen');
      } finally {
        await next.close();
      }
    });
  });
}
