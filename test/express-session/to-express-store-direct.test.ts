/**
 * toExpressStore called directly, as code other than express-session calls a store (an admin
 * script, a test, another middleware): `set` with a plain object is express-session's upsert (a
 * second set replaces the session: keys it lacks go), `set` with something that is not an
 * object is refused with a typed error, and `all()` leaves out sessions that ran out even when
 * the underlying store still returns them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toExpressStore } from '../../src/express-session/index.js';
import { generateSessionId } from '../../src/id.js';
import { MemoryStore } from '../../src/index.js';
import { record } from '../helpers/records.js';
import { LaxStore } from '../helpers/spy-store.js';

type Callback<T = unknown> = (error: unknown, value?: T) => void;
interface ExpressStore {
  set(sid: string, session: unknown, cb: Callback): void;
  get(sid: string, cb: Callback<Record<string, unknown> | null>): void;
  all(cb: Callback<Record<string, unknown>>): void;
}

const call = <T>(fn: (cb: Callback<T>) => void) =>
  new Promise<T | undefined>((resolve, reject) => {
    fn((error, value) => (error ? reject(error) : resolve(value)));
  });

/** The application's keys of a stored record (the adapter keeps the cookie under a key of its own). */
const appData = (rec: { data: Record<string, unknown> } | undefined) =>
  Object.fromEntries(Object.entries(rec?.data ?? {}).filter(([key]) => !key.startsWith('__ssjs')));

const cookie = () => ({ expires: new Date(Date.now() + 60_000).toISOString(), path: '/' });

describe('toExpressStore: set with a plain object', () => {
  it('creates the session, and a second set replaces it: keys it lacks are removed', async () => {
    const store = new MemoryStore();
    const express = toExpressStore(store) as unknown as ExpressStore;
    const sid = generateSessionId();
    await call((cb) => express.set(sid, { cookie: cookie(), user: 'ada', cart: 3 }, cb));
    assert.deepEqual(appData(await store.get(sid)), { user: 'ada', cart: 3 });
    await call((cb) => express.set(sid, { cookie: cookie(), user: 'bob' }, cb));
    assert.deepEqual(appData(await store.get(sid)), { user: 'bob' });
    const loaded = await call<Record<string, unknown> | null>((cb) => express.get(sid, cb));
    assert.equal(loaded?.user, 'bob');
    assert.equal(loaded?.cart, undefined);
    await store.close();
  });

  it('a value that is not an object is refused with a typed error and stores nothing', async () => {
    const store = new MemoryStore();
    const express = toExpressStore(store) as unknown as ExpressStore;
    const sid = generateSessionId();
    for (const value of [null, 'ada', 42]) {
      await assert.rejects(
        call((cb) => express.set(sid, value, cb)),
        (error: unknown) => typeof (error as { code?: unknown }).code === 'string',
      );
    }
    assert.equal(await store.length(), 0);
    await store.close();
  });
});

describe('toExpressStore: all()', () => {
  it('leaves out sessions past their expiry that the store still returns', async () => {
    const inner = new LaxStore();
    const express = toExpressStore(inner) as unknown as ExpressStore;
    const live = generateSessionId();
    const gone = generateSessionId();
    await inner.create(live, record({ user: 'ada' }));
    await inner.create(gone, record({ user: 'old' }, { expiresAt: Date.now() - 1000 }));
    const all = await call<Record<string, unknown>>((cb) => express.all(cb));
    assert.deepEqual(Object.keys(all ?? {}), [live]);
  });
});
