/**
 * What a `set` of a loaded session writes, key by key, under express-session and the drop-in:
 * values whose JSON is unchanged are not written (numbers, objects, Dates), changed and deleted
 * keys are, data JSON can't hold is refused; plus the cookie the drop-in sends back (the same
 * signed value, re-signed after a secret rotation) and sessions of express-session's own class.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import realSession from 'express-session';
import { EXPRESS_KEY } from '../../src/data.js';
import dropIn, {
  type ExpressSessionData,
  toExpressStore,
} from '../../src/express-session/index.js';
import { MemoryStore, type SessionChanges } from '../../src/index.js';
import { Signer } from '../../src/signer.js';
import { Client, listen } from '../helpers/http.js';
import { sess } from './app.js';

type Factory = (options: Record<string, unknown>) => express.RequestHandler;

const stores: MemoryStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

/** A MemoryStore that records the changes of every `update`. */
function recordingStore(): { store: MemoryStore; updates: SessionChanges[] } {
  const store = new MemoryStore();
  stores.push(store);
  const updates: SessionChanges[] = [];
  const update = store.update.bind(store);
  store.update = (id, changes, expiresAt) => {
    updates.push(structuredClone(changes));
    return update(id, changes, expiresAt);
  };
  return { store, updates };
}

const WHEN = new Date('2030-01-02T03:04:05.000Z');

/**
 * The data keys a `set` wrote. The cookie's own entry is left out: express-session's `touch`
 * computes `originalMaxAge` from two `Date.now()` calls, so on a slow machine it can come out a
 * millisecond short, and the adapter then rightly writes the changed cookie along with the data.
 */
function dataKeys(set: Record<string, unknown> | undefined): string[] {
  return Object.keys(set ?? {}).filter((key) => key !== EXPRESS_KEY);
}

function dataOnly(set: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(set ?? {}).filter(([key]) => key !== EXPRESS_KEY));
}

/** Routes that change the session in the ways `set` must tell apart. */
function app(session: Factory, store: MemoryStore): express.Express {
  const a = express();
  a.use(
    session({
      secret: 'keyboard cat',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 60_000 },
      store: session === (realSession as unknown) ? toExpressStore(store) : store,
    }),
  );
  a.get('/init', (req, res) => {
    Object.assign(sess(req), {
      n: 1,
      profile: { name: 'a', tags: ['x'] },
      when: WHEN,
      gone: 'y',
      blank: 'z',
    });
    res.json({ id: req.sessionID });
  });
  a.get('/bump', (req, res) => {
    const s = sess(req);
    s.n = (s.n as number) + 1;
    // Equal JSON: neither is written.
    s.profile = { name: 'a', tags: ['x'] };
    s.when = new Date(WHEN.getTime());
    res.json({});
  });
  a.get('/nested', (req, res) => {
    (sess(req).profile as { tags: string[] }).tags.push('z');
    res.json({});
  });
  a.get('/drop', (req, res) => {
    delete sess(req).gone;
    sess(req).blank = undefined;
    sess(req).fn = () => 1;
    res.json({});
  });
  a.get('/expire', (req, res) => {
    sess(req).n = 0;
    sess(req).cookie.expires = new Date(Date.now() - 1_000);
    res.json({});
  });
  a.get('/data', (req, res) => {
    const { cookie: _cookie, ...data } = sess(req);
    res.json(data);
  });
  return a;
}

for (const [label, session] of [
  ['express-session + toExpressStore', realSession as unknown as Factory],
  ['the drop-in', dropIn as unknown as Factory],
] as const) {
  describe(`a loaded session's set under ${label}`, () => {
    it('writes only the keys whose JSON changed (a number, not an equal object or Date)', async () => {
      const { store, updates } = recordingStore();
      const server = await listen(app(session, store));
      try {
        const client = new Client(server.url);
        await client.get('/init');
        await client.get('/bump');
        assert.deepEqual(updates.length, 1);
        assert.deepEqual(dataKeys(updates[0]!.set), ['n']);
        assert.deepEqual(updates[0]!.unset ?? [], []);
        await client.get('/nested');
        assert.deepEqual(dataOnly(updates[1]!.set), { profile: { name: 'a', tags: ['x', 'z'] } });
        assert.deepEqual((await client.get('/data')).json(), {
          n: 2,
          profile: { name: 'a', tags: ['x', 'z'] },
          when: WHEN.toISOString(),
          gone: 'y',
          blank: 'z',
        });
      } finally {
        await server.close();
      }
    });

    it('removes a deleted key, and a key holding a function is absent, as in its JSON', async () => {
      const { store, updates } = recordingStore();
      const server = await listen(app(session, store));
      try {
        const client = new Client(server.url);
        await client.get('/init');
        await client.get('/drop');
        assert.deepEqual([...(updates[0]!.unset ?? [])].sort(), ['blank', 'gone']);
        assert.deepEqual(dataKeys(updates[0]!.set), []);
        const data = (await client.get('/data')).json<Record<string, unknown>>();
        assert.equal('gone' in data, false);
        assert.equal('blank' in data, false);
        assert.equal('fn' in data, false);
      } finally {
        await server.close();
      }
    });

    it('ends the session when its cookie has already expired', async () => {
      const { store } = recordingStore();
      const server = await listen(app(session, store));
      try {
        const client = new Client(server.url);
        const { id } = (await client.get('/init')).json<{ id: string }>();
        await client.get('/expire');
        assert.equal(await store.get(id), undefined);
      } finally {
        await server.close();
      }
    });
  });
}

describe('toExpressStore set of a session loaded through it', () => {
  it('refuses a value JSON cannot hold with a typed error, keeping the stored session', async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store);
    const sid = new Signer(['x'])
      .sign('a')
      .slice(2, 34)
      .replace(/[^A-Za-z0-9]/g, 'a');
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() };
    await new Promise<void>((resolve, reject) =>
      adapter.set(sid, { n: 1, cookie } as never, (e) => (e ? reject(e) : resolve())),
    );
    const loaded = await new Promise<Record<string, unknown>>((resolve, reject) =>
      adapter.load(sid, (e, s) => (e ? reject(e) : resolve(s))),
    );
    loaded.big = 1n;
    const error = await new Promise((resolve) => adapter.set(sid, loaded, resolve));
    assert.equal((error as { code?: string }).code, 'INVALID_SESSION_DATA');
    assert.match(String(error), /JSON-serializable/);
    assert.deepEqual((await store.get(sid))?.data.n, 1);
  });
});

describe('toExpressStore calls', () => {
  const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
    new Promise<[unknown, T | undefined]>((resolve) => fn((e, v) => resolve([e, v])));

  it("give back each record's expiry as the exact ISO string, whatever its milliseconds", async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store);
    const second = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
    for (const [i, milli] of [5, 50, 500, 0].entries()) {
      const sid = `some-session-id-00000000${i}`;
      const expiresAt = second + milli;
      await store.create(sid, { data: { n: i }, createdAt: Date.now(), expiresAt });
      const [, session] = await call<ExpressSessionData | null>((cb) => adapter.get(sid, cb));
      assert.equal(session?.cookie.expires, new Date(expiresAt).toISOString());
    }
  });

  it('refuse an id that is no id with a typed error, on destroy too', async () => {
    const adapter = toExpressStore(recordingStore().store);
    const [error] = await call((cb) => adapter.destroy('', cb));
    assert.equal((error as { code?: string }).code, 'INVALID_SESSION_ID');
  });

  it('a session loaded under one custom id and saved under another creates nothing', async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store);
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() };
    await call((cb) => adapter.set('apple', { n: 1, cookie } as never, cb));
    const [, loaded] = await call<Record<string, unknown>>((cb) => adapter.load('apple', cb));
    loaded!.n = 2;
    const [error] = await call((cb) => adapter.set('banana', loaded as never, cb));
    assert.equal(error, null);
    const [, banana] = await call((cb) => adapter.get('banana', cb));
    assert.equal(banana, null);
    const [, apple] = await call<ExpressSessionData | null>((cb) => adapter.get('apple', cb));
    assert.equal(apple?.n, 1);
  });

  it('a value whose toJSON throws a non-Error is refused, naming what it threw', async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store);
    const sid = 'some-session-id-222222222';
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000).toISOString() };
    await call((cb) => adapter.set(sid, { n: 1, cookie } as never, cb));
    const [, loaded] = await call<Record<string, unknown>>((cb) => adapter.load(sid, cb));
    loaded!.odd = {
      toJSON() {
        throw 'no JSON here';
      },
    };
    const [error] = await call((cb) => adapter.set(sid, loaded as never, cb));
    assert.equal((error as { code?: string }).code, 'INVALID_SESSION_DATA');
    assert.match(String(error), /no JSON here/);
  });
});

describe("toExpressStore set of a loaded session's cookie, read as its JSON", () => {
  const sid = 'some-session-id-111111111';
  const minute = () => ({
    originalMaxAge: 60_000,
    expires: new Date(Date.now() + 60_000).toISOString(),
  });
  const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) =>
      fn((error, value) => (error ? reject(error) : resolve(value))),
    );

  async function loaded(adapter: ReturnType<typeof toExpressStore>) {
    await call((cb) => adapter.set(sid, { n: 1, cookie: minute() } as never, cb));
    return (await call<Record<string, unknown> & { cookie: Record<string, unknown> }>((cb) =>
      adapter.load(sid, cb),
    ))!;
  }

  it('a plain cookie object: its ISO expires is the expiry, NaN and object attributes as JSON', async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store);
    const session = await loaded(adapter);
    const expires = new Date(Date.now() + 120_000);
    session.cookie = {
      expires: expires.toISOString(),
      originalMaxAge: Number.NaN,
      domain: new String('example.com'),
      priority: () => 'high',
    };
    await call((cb) => adapter.set(sid, session as never, cb));
    assert.equal((await store.get(sid))?.expiresAt, expires.getTime());
    const back = (await call<ExpressSessionData | null>((cb) => adapter.get(sid, cb)))!;
    assert.equal(back.cookie.originalMaxAge, null);
    assert.equal(back.cookie.domain, 'example.com');
    assert.equal('priority' in back.cookie, false);
  });

  it('an invalid Date, no cookie, or a toJSON giving no object: a browser-session cookie of maxAge', async () => {
    const { store } = recordingStore();
    const adapter = toExpressStore(store, { maxAge: 30_000 });
    const cases: Array<[(s: Record<string, unknown>) => void, 'browser-session' | 'dated']> = [
      [
        (s) => Object.assign(s.cookie as object, { expires: new Date('not a date') }),
        'browser-session',
      ],
      [(s) => Object.assign(s, { cookie: 'none' }), 'dated'],
      [(s) => Object.assign(s, { cookie: { toJSON: () => 5 } }), 'dated'],
    ];
    for (const [broken, kind] of cases) {
      const session = await loaded(adapter);
      broken(session);
      const before = Date.now();
      await call((cb) => adapter.set(sid, session as never, cb));
      const record = await store.get(sid);
      assert.ok(
        record && record.expiresAt >= before + 30_000 && record.expiresAt <= Date.now() + 30_000,
      );
      assert.equal(record.data.n, 1);
      const back = (await call<ExpressSessionData | null>((cb) => adapter.get(sid, cb)))!;
      assert.equal(back.cookie.expires === null, kind === 'browser-session', kind);
    }
  });
});

describe("the drop-in's Set-Cookie", () => {
  const route = (session: express.RequestHandler) => {
    const a = express();
    a.use(session);
    a.get('/', (req, res) => {
      sess(req).n = ((sess(req).n as number | undefined) ?? 0) + 1;
      res.json({ id: req.sessionID });
    });
    return a;
  };

  it('sends back the signed value the request carried when the id is unchanged', async () => {
    const store = new MemoryStore();
    stores.push(store);
    const options = { store, resave: false, saveUninitialized: false, rolling: true };
    const server = await listen(route(dropIn({ ...options, secret: 'new' })));
    try {
      const client = new Client(server.url);
      const first = (await client.get('/')).cookiesNamed('connect.sid')[0]!.value;
      const second = (await client.get('/')).cookiesNamed('connect.sid')[0]!.value;
      assert.equal(second, first);
    } finally {
      await server.close();
    }
  });

  it('re-signs with the first secret a cookie an older secret signed', async () => {
    const store = new MemoryStore();
    stores.push(store);
    const options = { store, resave: false, saveUninitialized: false, rolling: true };
    const before = await listen(route(dropIn({ ...options, secret: 'old' })));
    const client = new Client(before.url);
    let id: string;
    try {
      id = (await client.get('/')).json<{ id: string }>().id;
    } finally {
      await before.close();
    }
    const after = await listen(route(dropIn({ ...options, secret: ['new', 'old'] })));
    try {
      const client2 = new Client(after.url, client.jar);
      const reply = await client2.get('/');
      assert.equal(reply.json<{ id: string }>().id, id, 'the session carries over');
      const value = decodeURIComponent(reply.cookiesNamed('connect.sid')[0]!.value);
      assert.equal(value, new Signer(['new']).sign(id));
    } finally {
      await after.close();
    }
  });

  it('turns a cookie attribute that cannot be sent into next(err)', async () => {
    const a = express();
    a.use(dropIn({ secret: 's', resave: false, saveUninitialized: true }));
    a.get('/', (req, res) => {
      sess(req).cookie.domain = 'bad;domain';
      res.send('body');
    });
    const errors: unknown[] = [];
    a.use((err: unknown, _req: Request, _res: Response, _next: NextFunction) => {
      errors.push(err);
    });
    const server = await listen(a);
    try {
      const reply = await new Client(server.url).get('/');
      assert.equal(reply.body, 'body');
      assert.equal(reply.cookiesNamed('connect.sid').length, 0);
      await new Promise((resolve) => setImmediate(resolve));
      assert.match(String(errors[0]), /cookie\.domain is invalid/);
    } finally {
      await server.close();
    }
  });
});

describe('the drop-in over a store that builds express-session sessions', () => {
  it('counts an explicit save() after reload() as saved: no second write at the end', async () => {
    const store = new realSession.MemoryStore();
    let sets = 0;
    const set = store.set.bind(store);
    store.set = (sid, session, callback) => {
      sets++;
      set(sid, session, callback);
    };
    const a = express();
    a.use(dropIn({ store, secret: 's', resave: false, saveUninitialized: false }));
    a.get('/init', (req, res) => {
      sess(req).n = 1;
      res.send('ok');
    });
    a.get('/reload-save', (req, res, next) => {
      sess(req).reload((error) => {
        if (error) return next(error);
        // A second reload: the wrapped session is replaced by another one, wrapped again.
        sess(req).reload((again) => {
          if (again) return next(again);
          sess(req).n = 2;
          sess(req).save((saved) => (saved ? next(saved) : res.send('saved')));
        });
      });
    });
    a.get('/reload-lost', (req, res) => {
      store.destroy(req.sessionID, () => {
        sess(req).reload((error) => res.send(String((error as Error | undefined)?.message)));
      });
    });
    const server = await listen(a);
    try {
      const client = new Client(server.url);
      await client.get('/init');
      assert.equal(sets, 1);
      assert.equal((await client.get('/reload-save')).body, 'saved');
      assert.equal(sets, 2, 'saved once by the route, not again at the end');
      assert.equal((await client.get('/reload-lost')).body, 'failed to load session');
    } finally {
      await server.close();
    }
  });
});

describe('the drop-in over a store that keeps objects, not JSON', () => {
  it('reads a Date cookie.expires as it is, and does not adopt a session it says has expired', async () => {
    const sessions = new Map<string, Record<string, unknown>>();
    const store = {
      get: (sid: string, cb: (e: unknown, s?: object | null) => void) =>
        cb(null, sessions.get(sid) ?? null),
      set: (
        sid: string,
        s: { cookie: { expires?: Date; originalMaxAge: number | null } },
        cb?: () => void,
      ) => {
        const { cookie, ...data } = s;
        sessions.set(sid, {
          ...data,
          cookie: { originalMaxAge: cookie.originalMaxAge, expires: cookie.expires },
        });
        cb?.();
      },
      destroy: (sid: string, cb?: () => void) => {
        sessions.delete(sid);
        cb?.();
      },
    };
    const a = express();
    a.use(
      dropIn({
        store,
        secret: 's',
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: 60_000 },
      }),
    );
    a.get('/', (req, res) => {
      sess(req).n = ((sess(req).n as number | undefined) ?? 0) + 1;
      res.json({ n: sess(req).n, id: req.sessionID });
    });
    const server = await listen(a);
    try {
      const client = new Client(server.url);
      const { id } = (await client.get('/')).json<{ id: string }>();
      assert.ok((sessions.get(id)!.cookie as { expires: unknown }).expires instanceof Date);
      assert.equal((await client.get('/')).json<{ n: number }>().n, 2);
      (sessions.get(id)!.cookie as { expires: Date }).expires = new Date(Date.now() - 1);
      const after = (await client.get('/')).json<{ n: number; id: string }>();
      assert.equal(after.n, 1);
      assert.notEqual(after.id, id);
    } finally {
      await server.close();
    }
  });
});
