/**
 * Migration with nobody logged out, end to end over real HTTP: users log in to an express-session
 * app (connect-redis, then connect-pg-simple); the same browsers then reach a session-store-js app
 * with the same secret, `cookieName: 'connect.sid'` and `migrateFrom`. Then the bulk move
 * (`migrateSessions`) of 10 000 sessions, with progress, resumable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import session from 'express-session';
import { InvalidSessionDataError } from '../../src/errors.js';
import { migrateSessions } from '../../src/express-session/migrate.js';
import { SessionManager } from '../../src/index.js';
import type { ExpressStoreLike, LegacyCallback } from '../../src/legacy-call.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { Client, type Listening, listen } from '../helpers/http.js';
import { h } from '../helpers/routes.js';
import { connectPg, connectRedis, type LegacyFixture, sessionFileStore } from './from-stores.js';

const SECRET = 'migration test secret, thirty-two characters or more';
const HOUR = 3_600_000;

/** The app as it ran before: express-session over `store`. */
function legacyApp(store: ExpressStoreLike) {
  const app = express();
  app.use(
    session({
      store: store as unknown as session.Store,
      secret: SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: HOUR },
    }),
  );
  app.get('/login/:user', (req, res) => {
    const s = req.session as session.Session & Record<string, unknown>;
    s.user = req.params.user;
    s.cart = ['book', { qty: 2 }];
    res.json({ id: req.sessionID });
  });
  app.get('/bad', (req, res) => {
    (req.session as unknown as Record<string, unknown>)['k'.repeat(300)] = 'too long a key';
    res.json({ id: req.sessionID });
  });
  app.get('/whoami', (req, res) => {
    res.json({ user: (req.session as unknown as Record<string, unknown>).user ?? null });
  });
  return app;
}

/** The app after the switch: session-store-js, same secret and cookie name, `migrateFrom`. */
function newApp(sm: SessionManager) {
  const app = express();
  app.use(sm.middleware());
  app.get(
    '/whoami',
    h(async (req, res) => {
      res.json({
        user: (await sm.get(req, 'user')) ?? null,
        cart: (await sm.get(req, 'cart')) ?? null,
        id: req.sessionID ?? null,
      });
    }),
  );
  app.get(
    '/logout',
    h(async (req, res) => {
      await sm.destroy(req);
      res.json({ ok: true });
    }),
  );
  app.use(
    (
      err: { status?: number; code?: string },
      _req: unknown,
      res: express.Response,
      _next: unknown,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code });
    },
  );
  return app;
}

/** Counts the legacy store's `get`s without touching the store itself. */
function counting(store: ExpressStoreLike): { store: ExpressStoreLike; gets: () => number } {
  let gets = 0;
  const wrapper: ExpressStoreLike = {
    get(sid: string, cb: LegacyCallback) {
      gets++;
      return store.get(sid, cb);
    },
    set: (sid: string, s: object, cb: LegacyCallback) => store.set(sid, s, cb),
    destroy: (sid: string, cb: LegacyCallback) => store.destroy(sid, cb),
  };
  return { store: wrapper, gets: () => gets };
}

function describeMigration(name: string, make: () => Promise<LegacyFixture | string>): void {
  describe(`migrateFrom over HTTP: express-session with ${name} → session-store-js`, () => {
    let fixture: LegacyFixture;
    let skip: string | undefined;
    let legacy: Listening;
    let current: Listening;
    let sm: SessionManager;
    let counter: ReturnType<typeof counting>;
    const errors: Error[] = [];

    before(async () => {
      const made = await make();
      if (typeof made === 'string') {
        skip = made;
        return;
      }
      fixture = made;
      counter = counting(fixture.store);
      legacy = await listen(legacyApp(fixture.store));
      sm = new SessionManager({
        secret: SECRET,
        cookieName: 'connect.sid',
        store: new MemoryStore(),
        migrateFrom: { store: counter.store, onError: (e) => errors.push(e) },
      });
      current = await listen(newApp(sm));
    });
    after(async () => {
      if (skip) return;
      await legacy.close();
      await current.close();
      await sm.close();
      await fixture.cleanup();
    });

    /** A browser logged in on the old app, now pointed at the new one. */
    async function loggedIn(
      user: string,
    ): Promise<{ browser: Client; id: string; cookie: string }> {
      const old = new Client(legacy.url);
      const { id } = (await old.get(`/login/${user}`)).json<{ id: string }>();
      assert.ok(await fixture.raw(id), 'the old app stored the session');
      return { browser: new Client(current.url, old.jar), id, cookie: old.jar.get('connect.sid')! };
    }

    it('users keep their data and their cookie; each legacy record is gone after import', async (t) => {
      if (skip) return t.skip(skip);
      for (const user of ['ada', 'grace', 'linus']) {
        const { browser, id, cookie } = await loggedIn(user);
        const first = await browser.get('/whoami');
        assert.equal(first.status, 200);
        assert.deepEqual(first.json(), { user, cart: ['book', { qty: 2 }], id });
        assert.equal(await fixture.raw(id), undefined, 'the legacy record was removed');
        const resent = first.cookiesNamed('connect.sid');
        assert.equal(resent.length, 1);
        assert.equal(resent[0]!.value, cookie, 'the same signed id: the cookie keeps working');
        assert.equal(resent[0]!.attributes.get('samesite'), 'Lax');
        const second = await browser.get('/whoami');
        assert.deepEqual(second.json(), { user, cart: ['book', { qty: 2 }], id });
      }
    });

    it('concurrent requests with one legacy cookie import it once', async (t) => {
      if (skip) return t.skip(skip);
      const { browser, id } = await loggedIn('concurrent');
      const before = counter.gets();
      const replies = await Promise.all(Array.from({ length: 10 }, () => browser.get('/whoami')));
      for (const reply of replies)
        assert.deepEqual(reply.json<{ user: string }>().user, 'concurrent');
      assert.equal(counter.gets() - before, 1, 'one legacy read for ten concurrent requests');
      assert.equal(await fixture.raw(id), undefined);
    });

    it('a logout after import stays a logout, on both apps', async (t) => {
      if (skip) return t.skip(skip);
      const { browser, id, cookie } = await loggedIn('leaving');
      assert.equal((await browser.get('/whoami')).json<{ user: string }>().user, 'leaving');
      await browser.get('/logout');
      const replay = new Client(current.url, new Map([['connect.sid', cookie]]));
      assert.deepEqual((await replay.get('/whoami')).json(), { user: null, cart: null, id: null });
      const oldApp = new Client(legacy.url, new Map([['connect.sid', cookie]]));
      assert.deepEqual((await oldApp.get('/whoami')).json(), { user: null });
      assert.equal(await fixture.raw(id), undefined);
      assert.equal(await sm.store.get(id), undefined);
    });

    it('keys JSON or the data rules refuse are dropped and reported; the session still moves', async (t) => {
      if (skip) return t.skip(skip);
      const old = new Client(legacy.url);
      await old.get('/login/odd');
      await old.get('/bad');
      errors.length = 0;
      const reply = await new Client(current.url, old.jar).get('/whoami');
      assert.equal(reply.json<{ user: string }>().user, 'odd');
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof InvalidSessionDataError);
      assert.match(errors[0]!.message, /dropped "kkkk/);
    });
  });
}

describeMigration('connect-redis', connectRedis);
describeMigration('connect-pg-simple', connectPg);

describe('migrateFrom: a legacy store that fails', () => {
  it('answers 503 (StoreUnavailableError), not "logged out", and works again once the store is back', async (t) => {
    const fixture = await connectRedis();
    if (typeof fixture === 'string') return t.skip(fixture);
    const legacy = await listen(legacyApp(fixture.store));
    let failing = false;
    const flaky: ExpressStoreLike = {
      get: (sid: string, cb: LegacyCallback) =>
        failing ? cb(new Error('ECONNREFUSED')) : fixture.store.get(sid, cb),
      set: (sid: string, s: object, cb: LegacyCallback) => fixture.store.set(sid, s, cb),
      destroy: (sid: string, cb: LegacyCallback) => fixture.store.destroy(sid, cb),
    };
    const sm = new SessionManager({
      secret: SECRET,
      cookieName: 'connect.sid',
      store: new MemoryStore(),
      migrateFrom: { store: flaky, timeout: 500 },
    });
    const current = await listen(newApp(sm));
    try {
      const old = new Client(legacy.url);
      const { id } = (await old.get('/login/ada')).json<{ id: string }>();
      const browser = new Client(current.url, old.jar);
      failing = true;
      const down = await browser.get('/whoami');
      assert.equal(down.status, 503);
      assert.deepEqual(down.json(), { code: 'STORE_UNAVAILABLE' });
      assert.equal(down.cookiesNamed('connect.sid').length, 0, 'the cookie is not cleared');
      assert.ok(await fixture.raw(id), 'the legacy session is kept');
      failing = false;
      assert.equal((await browser.get('/whoami')).json<{ user: string }>().user, 'ada');
    } finally {
      await legacy.close();
      await current.close();
      await sm.close();
      await fixture.cleanup();
    }
  });

  it('a legacy store that never answers is bounded by timeout: 503', async () => {
    const legacyStore = new session.MemoryStore();
    const sm = new SessionManager({
      secret: SECRET,
      cookieName: 'connect.sid',
      store: new MemoryStore(),
      migrateFrom: {
        store: { get: () => {}, set: () => {}, destroy: () => {} },
        timeout: 200,
      },
    });
    const current = await listen(newApp(sm));
    const legacy = await listen(legacyApp(legacyStore));
    try {
      const old = new Client(legacy.url);
      await old.get('/login/ada');
      const reply = await new Client(current.url, old.jar).get('/whoami');
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    } finally {
      await legacy.close();
      await current.close();
      await sm.close();
    }
  });

  it('when removing the legacy record fails, the import is undone and the request fails (503)', async () => {
    const legacyStore = new session.MemoryStore();
    let destroyFails = true;
    const primary = new MemoryStore();
    const sm = new SessionManager({
      secret: SECRET,
      cookieName: 'connect.sid',
      store: primary,
      migrateFrom: {
        get: (sid: string, cb: LegacyCallback) => legacyStore.get(sid, cb),
        set: (sid: string, s: object, cb: LegacyCallback) =>
          legacyStore.set(sid, s as session.SessionData, cb),
        destroy: (sid: string, cb: LegacyCallback) =>
          destroyFails ? cb(new Error('read-only replica')) : legacyStore.destroy(sid, cb),
      },
    });
    const current = await listen(newApp(sm));
    const legacy = await listen(legacyApp(legacyStore));
    try {
      const old = new Client(legacy.url);
      const { id } = (await old.get('/login/ada')).json<{ id: string }>();
      const browser = new Client(current.url, old.jar);
      assert.equal((await browser.get('/whoami')).status, 503);
      assert.equal(await primary.get(id), undefined, 'the copy was removed again');
      destroyFails = false;
      assert.equal((await browser.get('/whoami')).json<{ user: string }>().user, 'ada');
      assert.ok(await primary.get(id));
    } finally {
      await legacy.close();
      await current.close();
      await sm.close();
    }
  });

  it('an expired legacy session, or one past absoluteTimeout, is not imported', async () => {
    const legacyStore = new session.MemoryStore();
    const sessions = (legacyStore as unknown as { sessions: Record<string, string> }).sessions;
    const primary = new MemoryStore();
    const sm = new SessionManager({
      secret: SECRET,
      cookieName: 'connect.sid',
      store: primary,
      absoluteTimeout: HOUR,
      // A store that returns what it holds without checking expiry, as connect-redis does.
      migrateFrom: {
        get: (sid: string, cb: LegacyCallback) =>
          cb(null, sessions[sid] === undefined ? null : JSON.parse(sessions[sid])),
        set: (sid: string, s: object, cb: LegacyCallback) =>
          legacyStore.set(sid, s as session.SessionData, cb),
        destroy: (sid: string, cb: LegacyCallback) => legacyStore.destroy(sid, cb),
      },
    });
    const current = await listen(newApp(sm));
    const legacy = await listen(legacyApp(legacyStore));
    try {
      const cases = [
        { expires: new Date(Date.now() - 1000).toISOString(), createdAt: undefined },
        { expires: new Date(Date.now() + HOUR).toISOString(), createdAt: Date.now() - 2 * HOUR },
      ];
      for (const { expires, createdAt } of cases) {
        const old = new Client(legacy.url);
        const { id } = (await old.get('/login/ada')).json<{ id: string }>();
        const stored = JSON.parse(sessions[id]!);
        stored.cookie.expires = expires;
        if (createdAt !== undefined) stored.__createdAt = createdAt;
        sessions[id] = JSON.stringify(stored);
        const reply = await new Client(current.url, old.jar).get('/whoami');
        assert.deepEqual(reply.json(), { user: null, cart: null, id: null });
        assert.equal(await primary.get(id), undefined);
      }
    } finally {
      await legacy.close();
      await current.close();
      await sm.close();
    }
  });

  it('refuses a migrateFrom that is not an express-session store', () => {
    assert.throws(
      () => new SessionManager({ secret: SECRET, migrateFrom: {} as never }),
      /migrateFrom must be an express-session store/,
    );
    assert.throws(
      () =>
        new SessionManager({
          secret: SECRET,
          migrateFrom: { store: new session.MemoryStore(), timeout: -1 },
        }),
      /migrateFrom.timeout must be an integer number of milliseconds from 1 to \d+, got -1/,
    );
  });
});

describe('migrateSessions', () => {
  it('moves 10 000 connect-redis sessions with progress; a second run skips what is there', async (t) => {
    const fixture = await connectRedis();
    if (typeof fixture === 'string') return t.skip(fixture);
    const sm = new SessionManager({ secret: SECRET, store: new MemoryStore() });
    try {
      const total = 10_000;
      const ids: string[] = [];
      const expires = new Date(Date.now() + HOUR).toISOString();
      for (let i = 0; i < total; i += 500) {
        const batch = Array.from({ length: Math.min(500, total - i) }, (_, j) => {
          const id = `m${String(i + j).padStart(5, '0')}${'x'.repeat(24)}`;
          ids.push(id);
          return new Promise<void>((resolve, reject) =>
            fixture.store.set(id, { cookie: { originalMaxAge: HOUR, expires }, n: i + j }, (err) =>
              err ? reject(err) : resolve(),
            ),
          );
        });
        await Promise.all(batch);
      }
      fixture.store.set('not a valid id!', { cookie: { expires }, n: -1 }, () => {});

      const progress: number[] = [];
      const first = await migrateSessions({
        from: fixture.store,
        to: sm,
        remove: false,
        batch: 250,
        onProgress: (p) => progress.push(p.copied + p.skipped + p.invalid),
      });
      assert.deepEqual(first, { copied: total, skipped: 0, invalid: 1 });
      assert.ok(progress.length >= total / 250, `progress was reported ${progress.length} times`);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!);
      assert.equal(progress.at(-1), total + 1);
      assert.equal(await sm.store.length(), total);
      for (const i of [0, 4321, total - 1]) {
        const got = await sm.store.get(ids[i]!);
        assert.equal(got?.data.n, i);
        assert.equal(Object.hasOwn(got!.data, 'cookie'), false);
        assert.equal(got?.expiresAt, Date.parse(expires));
      }

      const second = await migrateSessions({ from: fixture.store, to: sm });
      assert.deepEqual(second, { copied: 0, skipped: total, invalid: 1 });
      assert.equal(
        await fixture.raw(ids[0]!),
        undefined,
        'the default run moves: the source is emptied',
      );
      const left = await fixture.client.keys(`${fixture.prefix}*`);
      assert.deepEqual(left, [`${fixture.prefix}not a valid id!`]);
    } finally {
      await sm.close();
      await fixture.cleanup();
    }
  });

  it('caps expiries by the manager maxAge, and refuses a source it cannot list', async () => {
    const legacyStore = new session.MemoryStore();
    const id = 'a'.repeat(32);
    const far = new Date(Date.now() + 30 * 86_400_000).toISOString();
    await new Promise<void>((resolve) =>
      legacyStore.set(
        id,
        { cookie: { originalMaxAge: 30 * 86_400_000, expires: far } } as never,
        () => resolve(),
      ),
    );
    const sm = new SessionManager({ secret: SECRET, store: new MemoryStore(), maxAge: HOUR });
    const before = Date.now();
    assert.deepEqual(await migrateSessions({ from: legacyStore, to: sm }), {
      copied: 1,
      skipped: 0,
      invalid: 0,
    });
    const got = await sm.store.get(id);
    assert.ok(got && got.expiresAt >= before + HOUR && got.expiresAt <= Date.now() + HOUR);
    await sm.close();

    const unlistable: ExpressStoreLike = {
      get: (_s: string, cb: LegacyCallback) => cb(null, null),
      set: (_s: string, _v: object, cb: LegacyCallback) => cb(null),
      destroy: (_s: string, cb: LegacyCallback) => cb(null),
    };
    await assert.rejects(migrateSessions({ from: unlistable, to: new MemoryStore() }), {
      code: 'NOT_SUPPORTED',
    });
  });

  it('skips sessions past the manager absoluteTimeout, and refuses bad options', async () => {
    const legacyStore = new session.MemoryStore();
    const id = 'b'.repeat(32);
    const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR).toISOString() };
    await new Promise<void>((resolve) =>
      legacyStore.set(id, { cookie, __createdAt: Date.now() - 2 * HOUR } as never, () => resolve()),
    );
    const sm = new SessionManager({
      secret: SECRET,
      store: new MemoryStore(),
      absoluteTimeout: HOUR,
    });
    assert.deepEqual(await migrateSessions({ from: legacyStore, to: sm }), {
      copied: 0,
      skipped: 1,
      invalid: 0,
    });
    assert.equal(await sm.store.length(), 0);
    await sm.close();
    const to = new MemoryStore();
    await assert.rejects(migrateSessions(null as never), /options must be an object/);
    await assert.rejects(migrateSessions({ from: legacyStore, to, batch: 0 }), /batch must be/);
    await assert.rejects(
      migrateSessions({ from: legacyStore, to, onProgress: 1 as never }),
      /onProgress must be a function/,
    );
    await assert.rejects(
      migrateSessions({ from: legacyStore, to: {} as never }),
      /to must be a SessionManager or a session store/,
    );
  });
});

describe('migrateSessions from session-file-store', () => {
  it('lists its session files (it has no all()) and moves them, removing each file', async () => {
    const fixture = await sessionFileStore();
    const sm = new SessionManager({ secret: SECRET, store: new MemoryStore() });
    try {
      const expires = new Date(Date.now() + HOUR).toISOString();
      const ids = Array.from(
        { length: 40 },
        (_, i) => `f${String(i).padStart(3, '0')}${'y'.repeat(28)}`,
      );
      for (const [i, id] of ids.entries()) {
        await new Promise<void>((resolve, reject) =>
          fixture.store.set(id, { cookie: { originalMaxAge: HOUR, expires }, n: i }, (err) =>
            err ? reject(err) : resolve(),
          ),
        );
      }
      assert.deepEqual(await migrateSessions({ from: fixture.store, to: sm, batch: 7 }), {
        copied: ids.length,
        skipped: 0,
        invalid: 0,
      });
      for (const [i, id] of ids.entries()) {
        assert.equal((await sm.store.get(id))?.data.n, i);
        assert.equal(await fixture.raw(id), undefined);
      }
    } finally {
      await sm.close();
      await fixture.cleanup();
    }
  });
});
