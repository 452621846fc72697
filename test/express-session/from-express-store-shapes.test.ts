/**
 * fromExpressStore over stores whose answers take the less common shapes express-session stores
 * give: `all()` with nothing (null), an array of sessions carrying `sid` (connect-mongo's
 * shape) or holding a non-object, a `list()` of files (session-file-store) that is no array; a
 * stored session without a cookie; an update that only removes keys; and an id destroyed
 * through the adapter that the store still holds or lists.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import session from 'express-session';
import { NotSupportedError, StoreUnavailableError } from '../../src/errors.js';
import { fromExpressStore } from '../../src/express-session/from-express-store.js';
import { generateSessionId } from '../../src/id.js';
import type { LegacyCallback } from '../../src/legacy-call.js';
import { HOUR, record } from '../helpers/records.js';

/** The callback methods of a real express-session MemoryStore, plus `extra`. */
function legacy(extra: Record<string, unknown> = {}) {
  const inner = new session.MemoryStore();
  const sessions = (inner as unknown as { sessions: Record<string, string> }).sessions;
  return {
    sessions,
    store: {
      get: (sid: string, cb: LegacyCallback) => inner.get(sid, cb),
      set: (sid: string, s: object, cb: LegacyCallback) =>
        inner.set(sid, s as session.SessionData, cb),
      destroy: (sid: string, cb: LegacyCallback) => inner.destroy(sid, cb),
      ...extra,
    },
  };
}

async function listed(store: ReturnType<typeof fromExpressStore>) {
  const seen: Array<[string, unknown]> = [];
  for await (const [id, rec] of store.all()) seen.push([id, { ...rec.data }]);
  return seen;
}

describe('fromExpressStore: shapes of all() and list()', () => {
  it('all() that calls back with null lists nothing', async () => {
    const { store } = legacy({ all: (cb: LegacyCallback) => cb(null, null) });
    assert.deepEqual(await listed(fromExpressStore(store)), []);
  });

  it('all() giving an array of sessions that carry sid lists them by that id, without the sid key', async () => {
    const id = generateSessionId();
    const expires = new Date(Date.now() + HOUR).toISOString();
    const { store } = legacy({
      all: (cb: LegacyCallback) => cb(null, [{ sid: id, cookie: { expires }, user: 'ada' }]),
    });
    assert.deepEqual(await listed(fromExpressStore(store)), [[id, { user: 'ada' }]]);
  });

  it('all() giving an array with an item that is not an object: NotSupportedError (ids unknown)', async () => {
    const { store } = legacy({ all: (cb: LegacyCallback) => cb(null, ['not a session']) });
    await assert.rejects(listed(fromExpressStore(store)), NotSupportedError);
  });

  it('a session-file-store style list() of files is used when all() gives no ids; a non-array is StoreUnavailableError', async () => {
    const id = generateSessionId();
    const good = legacy({
      options: { fileExtension: '.json' },
      list: (cb: LegacyCallback) => cb(null, [`${id}.json`, 'notes.txt']),
    });
    const adapter = fromExpressStore(good.store);
    await adapter.create(id, record({ user: 'ada' }));
    assert.deepEqual(await listed(adapter), [[id, { user: 'ada' }]]);
    const odd = legacy({
      options: { fileExtension: '.json' },
      list: (cb: LegacyCallback) => cb(null, 'files'),
    });
    await assert.rejects(
      listed(fromExpressStore(odd.store)),
      (error: unknown) =>
        error instanceof StoreUnavailableError && /list\(\) gave no array/.test(error.message),
    );
  });
});

describe('fromExpressStore: stored sessions and updates', () => {
  it('a stored session without a cookie is read, updated, and stored with the configured cookie', async () => {
    const { store, sessions } = legacy();
    const adapter = fromExpressStore(store, { cookie: { path: '/app', httpOnly: true } });
    const id = generateSessionId();
    sessions[id] = JSON.stringify({ user: 'ada' });
    assert.deepEqual({ ...(await adapter.get(id))?.data }, { user: 'ada' });
    assert.equal(await adapter.update(id, { set: { cart: 1 } }, Date.now() + HOUR), true);
    const stored = JSON.parse(sessions[id]!) as { cookie: { path?: string }; cart: number };
    assert.equal(stored.cart, 1);
    assert.equal(stored.cookie.path, '/app');
  });

  it('an update that only removes keys removes them and keeps the rest', async () => {
    const { store } = legacy();
    const adapter = fromExpressStore(store);
    const id = generateSessionId();
    await adapter.create(id, record({ user: 'ada', cart: 3 }));
    assert.equal(await adapter.update(id, { unset: ['cart'] }, Date.now() + HOUR), true);
    assert.deepEqual({ ...(await adapter.get(id))?.data }, { user: 'ada' });
  });
});

describe('fromExpressStore: a destroyed id stays destroyed', () => {
  /** A store that acknowledges destroy but keeps the session (a lagging replica, say). */
  const forgetful = () => legacy({ destroy: (_sid: string, cb: LegacyCallback) => cb(null) });

  it('create under a destroyed id is refused, even though the store still holds it', async () => {
    const { store } = forgetful();
    const adapter = fromExpressStore(store);
    const id = generateSessionId();
    await adapter.create(id, record({ user: 'ada' }));
    await adapter.destroy(id);
    assert.equal(await adapter.get(id), undefined);
    assert.equal(await adapter.create(id, record({ user: 'mallory' })), false);
  });

  it('all() leaves out a destroyed id the store still lists', async () => {
    const kit = forgetful();
    const ids = [generateSessionId(), generateSessionId()];
    const withIds = fromExpressStore({
      ...kit.store,
      ids: (cb: LegacyCallback) => cb(null, Object.keys(kit.sessions)),
    });
    for (const id of ids) await withIds.create(id, record({ id }));
    await withIds.destroy(ids[0]!);
    assert.deepEqual(
      (await listed(withIds)).map(([id]) => id),
      [ids[1]],
    );
  });
});

describe('fromExpressStore: stored values in shapes express-session never writes', () => {
  it('a value that is not a session object (a string, an array) is no session', async () => {
    const { store, sessions } = legacy();
    const adapter = fromExpressStore(store);
    const text = generateSessionId();
    const list = generateSessionId();
    sessions[text] = JSON.stringify('just text');
    sessions[list] = JSON.stringify([{ cookie: {} }]);
    assert.equal(await adapter.get(text), undefined);
    assert.equal(await adapter.get(list), undefined);
    assert.equal(await adapter.update(text, { set: { a: 1 } }, Date.now() + HOUR), false);
  });

  it('a cookie that is not an object counts as none: the session lives ttl from the read', async () => {
    const { store, sessions } = legacy();
    const adapter = fromExpressStore(store, { ttl: 60_000 });
    const id = generateSessionId();
    sessions[id] = JSON.stringify({ cookie: 'expires tomorrow', user: 'ada' });
    const before = Date.now();
    const read = await adapter.get(id);
    assert.equal(read?.data.user, 'ada');
    assert.ok(read && read.expiresAt >= before + 60_000);
  });

  it('cookie.expires as a Date object or a number of ms (stores that keep objects) is read as that time', async () => {
    const at = Date.now() + HOUR;
    for (const expires of [new Date(at), at]) {
      const id = generateSessionId();
      const adapter = fromExpressStore({
        get: (_sid: string, cb: LegacyCallback) => cb(null, { cookie: { expires }, user: 'ada' }),
        set: (_sid: string, _s: object, cb: LegacyCallback) => cb(null),
        destroy: (_sid: string, cb: LegacyCallback) => cb(null),
      });
      const read = await adapter.get(id);
      assert.equal(read?.expiresAt, at);
      assert.equal(read?.data.user, 'ada');
    }
  });

  it('an unreadable cookie.expires (an object) makes the session unusable, not endless', async () => {
    const adapter = fromExpressStore({
      get: (_sid: string, cb: LegacyCallback) => cb(null, { cookie: { expires: {} }, user: 'ada' }),
      set: (_sid: string, _s: object, cb: LegacyCallback) => cb(null),
      destroy: (_sid: string, cb: LegacyCallback) => cb(null),
    });
    assert.equal(await adapter.get(generateSessionId()), undefined);
  });

  it('a promise-returning store method that rejects without a reason gives StoreUnavailableError with one', async () => {
    const adapter = fromExpressStore({
      get: (_sid: string) => Promise.reject(undefined),
      set: (_sid: string, _s: object) => Promise.resolve(),
      destroy: (_sid: string) => Promise.resolve(),
    } as never);
    await assert.rejects(
      adapter.get(generateSessionId()),
      (error: unknown) =>
        error instanceof StoreUnavailableError &&
        /rejected without a reason/.test(
          String((error.cause as Error | undefined)?.message ?? error.message),
        ),
    );
  });
});
