/**
 * fromExpressStore: real express-session stores through the store compliance suite (each
 * guarantee held per process only, and each missing method, is marked), then what is specific
 * to wrapping them: stores that hang or throw, promise-only stores, the shapes of all(), the
 * quirks the adapter hides, and records an express-session app can still read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import {
  InvalidOptionError,
  InvalidSessionDataError,
  NotSupportedError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { DestroyedIds } from '../../src/express-session/destroyed-ids.js';
import {
  EXPRESS_STORE_CAPABILITIES,
  fromExpressStore,
} from '../../src/express-session/from-express-store.js';
import { generateSessionId } from '../../src/id.js';
import { SessionManager } from '../../src/index.js';
import type { LegacyCallback } from '../../src/legacy-call.js';
import { Client, listen } from '../helpers/http.js';
import { HOUR, record } from '../helpers/records.js';
import { addSessionWriteRoutes, h } from '../helpers/routes.js';
import { describeStore } from '../stores/compliance.js';
import {
  connectPg,
  connectRedis,
  expressMemoryStore,
  memorystore,
  sessionFileStore,
} from './from-stores.js';

const capabilities = EXPRESS_STORE_CAPABILITIES;
const quiet = { onError: () => {} };

describeStore(
  "fromExpressStore(express-session's MemoryStore)",
  async () => ({
    store: fromExpressStore(expressMemoryStore().store, quiet),
    cleanup: async () => {},
  }),
  { capabilities },
);

describeStore(
  'fromExpressStore(memorystore)',
  async () => ({ store: fromExpressStore(memorystore().store, quiet), cleanup: async () => {} }),
  { capabilities },
);

describeStore(
  'fromExpressStore(session-file-store)',
  async () => {
    const fixture = await sessionFileStore();
    return { store: fromExpressStore(fixture.store, quiet), cleanup: fixture.cleanup };
  },
  { capabilities },
);

const redis = await connectRedis();
if (typeof redis === 'string') {
  it.skip(`fromExpressStore(connect-redis): ${redis}`);
} else {
  await redis.cleanup();
  describeStore(
    'fromExpressStore(connect-redis)',
    async () => {
      const fixture = await connectRedis();
      if (typeof fixture === 'string') throw new Error(fixture);
      return { store: fromExpressStore(fixture.store, quiet), cleanup: fixture.cleanup };
    },
    { capabilities },
  );
}

const pgReason = await connectPg().then(async (fixture) => {
  if (typeof fixture === 'string') return fixture;
  await fixture.cleanup();
  return undefined;
});
if (pgReason) {
  it.skip(`fromExpressStore(connect-pg-simple): ${pgReason}`);
} else {
  describeStore(
    'fromExpressStore(connect-pg-simple)',
    async () => {
      const fixture = await connectPg();
      if (typeof fixture === 'string') throw new Error(fixture);
      return { store: fromExpressStore(fixture.store, quiet), cleanup: fixture.cleanup };
    },
    { capabilities, unsupported: ['all', 'length', 'clear'] },
  );
}

/** An express-session store in the callback style whose every method answers after `ms`. */
function slowStore(ms: number) {
  const inner = new session.MemoryStore();
  const later =
    (fn: (cb: LegacyCallback) => void) =>
    (cb: LegacyCallback): void => {
      setTimeout(() => fn(cb), ms);
    };
  return {
    inner,
    get: (sid: string, cb: LegacyCallback) => later((done) => inner.get(sid, done))(cb),
    set: (sid: string, s: object, cb: LegacyCallback) =>
      later((done) => inner.set(sid, s as session.SessionData, done))(cb),
    destroy: (sid: string, cb: LegacyCallback) => later((done) => inner.destroy(sid, done))(cb),
  };
}

describe('fromExpressStore: stores that misbehave', () => {
  it('a store that never calls back fails with StoreUnavailableError after `timeout`, and the adapter keeps working', async () => {
    let hang = true;
    const inner = new session.MemoryStore();
    const store = fromExpressStore(
      {
        get: (sid: string, cb: LegacyCallback) => (hang ? undefined : inner.get(sid, cb)),
        set: (sid: string, s: object, cb: LegacyCallback) =>
          hang ? undefined : inner.set(sid, s as session.SessionData, cb),
        destroy: (sid: string, cb: LegacyCallback) => (hang ? undefined : inner.destroy(sid, cb)),
      },
      { timeout: 100 },
    );
    const id = generateSessionId();
    const started = Date.now();
    await assert.rejects(
      store.get(id),
      (err: unknown) =>
        err instanceof StoreUnavailableError &&
        err.code === 'STORE_UNAVAILABLE' &&
        err.status === 503 &&
        /get\(\) did not answer within 100 ms/.test(err.message),
    );
    assert.ok(Date.now() - started >= 90, 'gave up before the timeout');
    await assert.rejects(store.create(id, record({ a: 1 })), StoreUnavailableError);
    hang = false;
    assert.equal(await store.create(id, record({ a: 1 })), true);
    assert.equal((await store.get(id))?.data.a, 1);
  });

  it('a store that throws synchronously gives a typed error carrying the cause', async () => {
    const boom = new Error('driver exploded');
    const store = fromExpressStore({
      get: () => {
        throw boom;
      },
      set: () => {
        throw boom;
      },
      destroy: () => {
        throw boom;
      },
    });
    for (const call of [
      () => store.get(generateSessionId()),
      () => store.create(generateSessionId(), record({})),
      () => store.destroy(generateSessionId()),
    ]) {
      await assert.rejects(
        call,
        (err: unknown) => err instanceof StoreUnavailableError && err.cause === boom,
      );
    }
  });

  it('a callback error and a rejected promise become StoreUnavailableError; ENOENT from get means "not found"', async () => {
    const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' });
    const failing = new Error('connection reset');
    const store = fromExpressStore({
      get: (_sid: string, cb: LegacyCallback) => cb(enoent),
      set: (_sid: string, _s: object, cb: LegacyCallback) => cb(failing),
      destroy: async (_sid: string) => Promise.reject(failing),
    });
    const id = generateSessionId();
    assert.equal(await store.get(id), undefined);
    await assert.rejects(
      store.create(id, record({})),
      (err: unknown) => err instanceof StoreUnavailableError && err.cause === failing,
    );
    await assert.rejects(
      store.destroy(id),
      (err: unknown) => err instanceof StoreUnavailableError && err.cause === failing,
    );
  });

  it('works with a promise-only store (methods without a callback parameter)', async () => {
    const map = new Map<string, string>();
    const store = fromExpressStore({
      get: async (sid: string) => (map.has(sid) ? JSON.parse(map.get(sid)!) : null),
      set: async (sid: string, s: object) => {
        map.set(sid, JSON.stringify(s));
      },
      destroy: async (sid: string) => {
        map.delete(sid);
      },
    });
    const id = generateSessionId();
    assert.equal(await store.create(id, record({ user: 'ada' })), true);
    assert.equal(await store.update(id, { set: { n: 2 } }, Date.now() + HOUR), true);
    assert.deepEqual({ ...(await store.get(id))?.data }, { user: 'ada', n: 2 });
    await store.destroy(id);
    assert.equal(await store.get(id), undefined);
  });

  it('a callback that comes twice, or after the promise, settles the call once', async () => {
    const inner = new session.MemoryStore();
    const store = fromExpressStore({
      get: (sid: string, cb: LegacyCallback) => {
        inner.get(sid, (err, s) => {
          cb(err, s);
          cb(new Error('second call'));
        });
      },
      set: (sid: string, s: object, cb: LegacyCallback) => {
        inner.set(sid, s as session.SessionData, cb);
        return Promise.resolve('ignored');
      },
      destroy: (sid: string, cb: LegacyCallback) => inner.destroy(sid, cb),
    });
    const id = generateSessionId();
    assert.equal(await store.create(id, record({ a: 1 })), true);
    assert.equal((await store.get(id))?.data.a, 1);
  });
});

describe('fromExpressStore: what it emulates', () => {
  it('never mutates the wrapped store', async () => {
    const legacy = new session.MemoryStore();
    const before = Object.getOwnPropertyNames(legacy).sort();
    const methods = ['get', 'set', 'destroy', 'touch', 'all', 'length', 'clear'].map(
      (m) => (legacy as unknown as Record<string, unknown>)[m],
    );
    const store = fromExpressStore(legacy);
    const id = generateSessionId();
    await store.create(id, record({ a: 1 }));
    await store.update(id, { set: { b: 2 } }, Date.now() + HOUR);
    await store.touch(id, Date.now() + 2 * HOUR);
    for await (const _ of store.all());
    await store.length();
    await store.destroy(id);
    await store.close();
    assert.deepEqual(Object.getOwnPropertyNames(legacy).sort(), before);
    assert.deepEqual(
      ['get', 'set', 'destroy', 'touch', 'all', 'length', 'clear'].map(
        (m) => (legacy as unknown as Record<string, unknown>)[m],
      ),
      methods,
    );
  });

  it('touch of an expired session does not revive it in session-file-store (whose own touch would)', async () => {
    const fixture = await sessionFileStore();
    try {
      const store = fromExpressStore(fixture.store);
      const id = generateSessionId();
      await store.create(id, record({ user: 'ada' }, { ttl: 40 }));
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(await store.touch(id, Date.now() + HOUR), false);
      assert.equal(await store.get(id), undefined);
      // The quirk guarded against: the store's own touch writes a live, cookie-only session.
      const raw = fixture.store as unknown as {
        touch(id: string, s: object, cb: () => void): void;
        get(id: string, cb: (err: unknown, s: unknown) => void): void;
      };
      const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR) };
      await new Promise<void>((resolve) => raw.touch(id, { cookie }, resolve));
      const revived = await new Promise((resolve) => raw.get(id, (_e, s) => resolve(s)));
      assert.ok(revived, 'session-file-store revived the session');
      assert.equal((revived as Record<string, unknown>).user, undefined);
    } finally {
      await fixture.cleanup();
    }
  });

  it('touch rewrites the stored cookie.expires, so it never goes stale (connect-redis touch only moves the TTL)', async (t) => {
    const fixture = await connectRedis();
    if (typeof fixture === 'string') return t.skip(fixture);
    try {
      const store = fromExpressStore(fixture.store);
      const id = generateSessionId();
      await store.create(id, record({ a: 1 }, { ttl: 60_000 }));
      const later = Date.now() + 2 * HOUR;
      assert.equal(await store.touch(id, later), true);
      const raw = (await fixture.raw(id)) as { cookie: { expires: string } };
      assert.equal(Date.parse(raw.cookie.expires), later);
      assert.ok((await fixture.client.pTTL(fixture.prefix + id)) > HOUR);
      assert.equal((await store.get(id))?.expiresAt, later);
    } finally {
      await fixture.cleanup();
    }
  });

  it('an expired session reads as missing although the store still holds it (second-precision TTL)', async (t) => {
    const fixture = await connectRedis();
    if (typeof fixture === 'string') return t.skip(fixture);
    try {
      const store = fromExpressStore(fixture.store);
      const id = generateSessionId();
      await store.create(id, record({ a: 1 }, { ttl: 50 }));
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.ok(await fixture.raw(id), 'connect-redis rounds the TTL up to a second');
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.update(id, { set: { b: 1 } }, Date.now() + HOUR), false);
    } finally {
      await fixture.cleanup();
    }
  });

  it('a logout during a slow write stays a logout', async () => {
    const legacy = slowStore(30);
    const store = fromExpressStore(legacy);
    const id = generateSessionId();
    await store.create(id, record({ user: 'ada' }));
    const write = store.update(id, { set: { cart: 3 } }, Date.now() + HOUR);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await store.destroy(id);
    await write;
    assert.equal(await store.update(id, { set: { late: true } }, Date.now() + HOUR), false);
    assert.equal(await store.touch(id, Date.now() + HOUR), false);
    assert.equal(await store.get(id), undefined);
    assert.equal(await new Promise((r) => legacy.inner.get(id, (_e, s) => r(s))), undefined);
  });

  it('keys the express-session stores use for their bookkeeping are refused as data', async () => {
    const store = fromExpressStore(new session.MemoryStore());
    const id = generateSessionId();
    await assert.rejects(store.create(id, record({ cookie: 1 })), InvalidSessionDataError);
    assert.equal(await store.get(id), undefined);
    await store.create(id, record({ a: 1 }));
    await assert.rejects(
      store.update(id, { set: { cookie: 'x' } }, Date.now() + HOUR),
      (err: unknown) =>
        err instanceof InvalidSessionDataError && /"cookie" is reserved/.test(err.message),
    );
    assert.equal((await store.get(id))?.data.a, 1);
  });

  it('drops stored keys JSON or our rules refuse, keeps the rest, and reports them to onError', async () => {
    const legacy = new session.MemoryStore();
    const errors: Error[] = [];
    const store = fromExpressStore(legacy, { onError: (e) => errors.push(e) });
    const id = generateSessionId();
    const sessions = (legacy as unknown as { sessions: Record<string, string> }).sessions;
    sessions[id] = JSON.stringify({
      cookie: { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR).toISOString() },
      user: 'ada',
      constructor: { evil: true },
      ['k'.repeat(300)]: 1,
    }).replace('"user"', '"__proto__":{"isAdmin":true},"user"');
    const got = await store.get(id);
    assert.ok(got);
    assert.deepEqual({ ...got.data }, { user: 'ada' });
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof InvalidSessionDataError);
    assert.match(errors[0]!.message, /"__proto__"/);
    assert.match(errors[0]!.message, /"constructor"/);
    assert.doesNotMatch(errors[0]!.message, new RegExp(id));
  });

  it('an express-session app can load what the adapter wrote: data, createdAt and a real cookie', async () => {
    const legacy = new session.MemoryStore();
    const store = fromExpressStore(legacy);
    const id = generateSessionId();
    const rec = record({ user: 'ada', n: 1 });
    await store.create(id, rec);
    const loaded = await new Promise<session.Session & Record<string, unknown>>((resolve, reject) =>
      legacy.load(id, (err, s) => (err ? reject(err) : resolve(s as never))),
    );
    assert.equal(loaded.user, 'ada');
    assert.equal(loaded.n, 1);
    assert.ok(loaded.cookie.expires instanceof Date);
    assert.equal(loaded.cookie.expires.getTime(), rec.expiresAt);
    assert.equal(loaded.cookie.httpOnly, true);
    assert.equal(loaded.cookie.path, '/');
    assert.ok(Math.abs((loaded.cookie.originalMaxAge ?? 0) - HOUR) < 5000);
    // And what express-session writes back is read again, with our createdAt kept.
    loaded.n = 2;
    await new Promise<void>((resolve, reject) =>
      loaded.save((err) => (err ? reject(err) : resolve())),
    );
    const again = await store.get(id);
    assert.equal(again?.data.n, 2);
    assert.equal(again?.createdAt, rec.createdAt);
  });

  it('memorystore keeps sessions for their lifetime (it reads a numeric cookie.maxAge)', async () => {
    const fixture = memorystore();
    const store = fromExpressStore(fixture.store);
    const id = generateSessionId();
    await store.create(id, record({ a: 1 }, { ttl: 2 * 86_400_000 }));
    const cache = (
      fixture.store as unknown as { store: { get(k: string): unknown; maxAge: number } }
    ).store;
    assert.ok(cache.get(id));
    const raw = (await fixture.raw(id)) as { cookie: Record<string, unknown> };
    assert.equal('maxAge' in raw.cookie, false, 'maxAge is computed, not stored');
  });
});

describe('fromExpressStore: listing', () => {
  class ArrayWithoutIds extends session.MemoryStore {
    // connect-mongo's shape: an array of sessions that don't say which id they belong to.
    override all(cb: (err: unknown, sessions?: never) => void): void {
      super.all((err, sessions) =>
        cb(err, (sessions ? Object.values(sessions) : sessions) as never),
      );
    }
  }

  it('an all() without ids is refused with NotSupportedError, unless the store has ids()', async () => {
    const store = fromExpressStore(new ArrayWithoutIds());
    await store.create(generateSessionId(), record({ a: 1 }));
    await assert.rejects(
      async () => {
        for await (const _ of store.all());
      },
      (err: unknown) => err instanceof NotSupportedError && /without their ids/.test(err.message),
    );

    class WithIds extends ArrayWithoutIds {
      ids(cb: (err: unknown, ids?: string[]) => void): void {
        session.MemoryStore.prototype.all.call(this, (err, sessions) =>
          cb(err, Object.keys(sessions ?? {})),
        );
      }
    }
    const withIds = fromExpressStore(new WithIds());
    const ids = Array.from({ length: 40 }, () => generateSessionId());
    for (const [i, id] of ids.entries()) await withIds.create(id, record({ i }));
    const seen = new Map<string, number>();
    for await (const [id, rec] of withIds.all()) seen.set(id, rec.data.i as number);
    assert.deepEqual([...seen.keys()].sort(), [...ids].sort());
    for (const [i, id] of ids.entries()) assert.equal(seen.get(id), i);
  });

  it('entries() lists ids our pattern refuses and unreadable sessions as unusable, skips expired ones', async () => {
    const legacy = new session.MemoryStore();
    const sessions = (legacy as unknown as { sessions: Record<string, string> }).sessions;
    const store = fromExpressStore(legacy);
    const good = generateSessionId();
    await store.create(good, record({ a: 1 }));
    sessions['custom-genid!'] = JSON.stringify({ cookie: { expires: null }, a: 2 });
    sessions[generateSessionId()] = JSON.stringify({
      cookie: { expires: new Date(Date.now() - 1000).toISOString() },
    });
    const broken = generateSessionId();
    sessions[broken] = JSON.stringify({ cookie: { expires: 'not a date' } });
    const entries = new Map<string, boolean>();
    for await (const entry of store.entries()) entries.set(entry.id, entry.record !== undefined);
    assert.deepEqual(Object.fromEntries(entries), {
      [good]: true,
      'custom-genid!': false,
      [broken]: false,
    });
  });
});

describe('fromExpressStore: options', () => {
  it('refuses what is not an express-session store, and bad options, naming them', () => {
    assert.throws(() => fromExpressStore({} as never), InvalidOptionError);
    assert.throws(() => fromExpressStore(null as never), /store must be an express-session store/);
    const legacy = new session.MemoryStore();
    assert.throws(
      () => fromExpressStore(legacy, { timeout: 0 }),
      /timeout must be an integer number of milliseconds from 1 to \d+, got 0/,
    );
    assert.throws(
      () => fromExpressStore(legacy, { ttl: -5 }),
      /ttl must be a number of milliseconds above 0 and at most \d+ \(ten years\), got -5/,
    );
    assert.throws(
      () => fromExpressStore(legacy, { onError: 'x' as never }),
      /onError must be a function/,
    );
  });

  it('a session without an expiry (browser-session cookie) lives `ttl` from each read', async () => {
    const legacy = new session.MemoryStore();
    const sessions = (legacy as unknown as { sessions: Record<string, string> }).sessions;
    const store = fromExpressStore(legacy, { ttl: 60_000 });
    const id = generateSessionId();
    sessions[id] = JSON.stringify({ cookie: { originalMaxAge: null, expires: null }, a: 1 });
    const before = Date.now();
    const got = await store.get(id);
    assert.ok(got && got.expiresAt >= before + 60_000 && got.expiresAt <= Date.now() + 60_000);
  });

  it('after close() every call rejects; the wrapped store stays usable', async () => {
    const legacy = new session.MemoryStore();
    const store = fromExpressStore(legacy);
    await store.close();
    await assert.rejects(store.get(generateSessionId()), { code: 'STORE_CLOSED' });
    await new Promise<void>((resolve) => legacy.set('x', { cookie: {} } as never, () => resolve()));
  });
});

describe('fromExpressStore: answers a store should not give', () => {
  const base = () => {
    const inner = new session.MemoryStore();
    return {
      get: (sid: string, cb: LegacyCallback) => inner.get(sid, cb),
      set: (sid: string, s: object, cb: LegacyCallback) =>
        inner.set(sid, s as session.SessionData, cb),
      destroy: (sid: string, cb: LegacyCallback) => inner.destroy(sid, cb),
    };
  };

  it('all() neither object nor array, ids() no array, length() no number: StoreUnavailableError', async () => {
    const odd = fromExpressStore({
      ...base(),
      all: (cb: LegacyCallback) => cb(null, 'sessions'),
      length: (cb: LegacyCallback) => cb(null, '3'),
    });
    await assert.rejects(async () => {
      for await (const _ of odd.all());
    }, StoreUnavailableError);
    await assert.rejects(odd.length(), /length\(\) gave no number/);
    const noArray = fromExpressStore({ ...base(), ids: (cb: LegacyCallback) => cb(null, {}) });
    await assert.rejects(async () => {
      for await (const _ of noArray.all());
    }, /ids\(\) gave no array/);
  });

  it('ids() listing: ids our pattern refuses count as unusable, sessions gone meanwhile are left out', async () => {
    const good = generateSessionId();
    const store = fromExpressStore({
      ...base(),
      ids: (cb: LegacyCallback) => cb(null, [good, 'bad id', generateSessionId()]),
    });
    await store.create(good, record({ a: 1 }));
    const entries: Array<[string, boolean]> = [];
    for await (const e of store.entries()) entries.push([e.id, e.record !== undefined]);
    assert.deepEqual(entries, [
      [good, true],
      ['bad id', false],
    ]);
  });

  it('refuses options that are not objects', () => {
    const legacy = new session.MemoryStore();
    assert.throws(
      () => fromExpressStore(legacy, { cookie: 'x' as never }),
      /cookie must be an object/,
    );
    assert.throws(() => fromExpressStore(legacy, 5 as never), /options must be an object/);
  });

  it('stores the configured cookie attributes with the sessions it creates', async () => {
    const fixture = expressMemoryStore();
    const store = fromExpressStore(fixture.store, { cookie: { secure: true, sameSite: 'strict' } });
    const id = generateSessionId();
    await store.create(id, record({ a: 1 }));
    const raw = (await fixture.raw(id)) as { cookie: Record<string, unknown> };
    assert.equal(raw.cookie.secure, true);
    assert.equal(raw.cookie.sameSite, 'strict');
    assert.equal(raw.cookie.path, '/');
  });
});

describe('DestroyedIds', () => {
  it('forgets an id after its time and never holds more than its bound', () => {
    const ids = new DestroyedIds(1000, 3);
    ids.add('a', 0);
    assert.equal(ids.has('a', 999), true);
    assert.equal(ids.has('a', 1000), false);
    for (const id of ['b', 'c', 'd', 'e']) ids.add(id, 10);
    assert.equal(ids.size, 3);
    assert.equal(ids.has('b', 11), false, 'the oldest went first');
    assert.equal(ids.has('e', 11), true);
    ids.add('f', 5000);
    assert.equal(ids.size, 1, 'expired entries are pruned on add');
  });
});

describe('fromExpressStore under a SessionManager, over HTTP', () => {
  const SECRET = 'a secret shared by both apps, long enough for production';

  it('serves sessions from connect-pg-simple that an express-session app on the same table reads too', async (t) => {
    const fixture = await connectPg();
    if (typeof fixture === 'string') return t.skip(fixture);
    const sm = new SessionManager({
      secret: SECRET,
      cookieName: 'connect.sid',
      store: fromExpressStore(fixture.store),
    });
    const ours = express();
    ours.use(sm.middleware());
    addSessionWriteRoutes(ours, sm as unknown as SessionManager);
    ours.get(
      '/login',
      h(async (req, res) => {
        await sm.regenerate(req, { user: 'u1' });
        res.send('ok');
      }),
    );
    ours.use(
      (
        err: { status?: number; code?: string },
        _q: unknown,
        res: express.Response,
        _n: unknown,
      ) => {
        res.status(err.status ?? 500).json({ code: err.code });
      },
    );
    const theirs = express();
    theirs.use(
      session({
        store: fixture.store as unknown as session.Store,
        secret: SECRET,
        resave: false,
        saveUninitialized: false,
      }),
    );
    theirs.get('/visits', (req, res) => {
      res.json({ visits: (req.session as unknown as Record<string, unknown>).visits ?? null });
    });
    const a = await listen(ours);
    const b = await listen(theirs);
    try {
      const browser = new Client(a.url);
      assert.equal((await browser.get('/')).body, 'visits=1');
      assert.equal((await browser.get('/')).body, 'visits=2');
      const other = new Client(b.url, browser.jar);
      assert.deepEqual((await other.get('/visits')).json(), { visits: 2 });
      const login = await browser.get('/login');
      assert.equal(login.status, 501);
      assert.deepEqual(login.json(), { code: 'NOT_SUPPORTED' });
    } finally {
      await a.close();
      await b.close();
      await sm.close();
      await fixture.cleanup();
    }
  });
});
