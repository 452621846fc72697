/**
 * The edges of the express-session interop: refused options, refused data, the upsert of plain
 * objects, id collisions, failing stores, express-session's `Cookie` and `Session` rules, and
 * the ways a response can end (callbacks, Buffers, a `Content-Length` set by hand).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express from 'express';
import realSession from 'express-session';
import { serializeCookie } from '../../src/express-session/cookie-object.js';
import dropIn, { Cookie, Session, toExpressStore } from '../../src/express-session/index.js';
import { MemoryStore, type SessionRecord } from '../../src/index.js';
import { Client, listen, trackAddedKeys } from '../helpers/http.js';
import { makeApp } from './app.js';
import { ours, real } from './impls.js';

const stores: MemoryStore[] = [];
const memory = () => {
  const store = new MemoryStore();
  stores.push(store);
  return store;
};
after(async () => {
  for (const s of stores) await s.close();
});

const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
  new Promise<[unknown, T | undefined]>((resolve) => fn((error, value) => resolve([error, value])));

const cookie = (ms: number) => ({
  originalMaxAge: ms,
  expires: new Date(Date.now() + ms).toISOString(),
});

/** A store whose reads fail with an untyped error, as a third-party store might. */
class FailingStore extends MemoryStore {
  override async get(): Promise<SessionRecord | undefined> {
    throw new Error('disk on fire');
  }
}

describe('toExpressStore refuses', () => {
  it('what is not a store, and malformed options, naming the option', () => {
    assert.throws(
      () => toExpressStore({} as never),
      /store must implement the SessionStore contract/,
    );
    assert.throws(() => toExpressStore(memory(), 5 as never), /options must be an object/);
    assert.throws(() => toExpressStore(memory(), { maxAge: -1 }), /maxAge must be a positive/);
    assert.throws(
      () => toExpressStore(memory(), { onLostSession: 'sometimes' as never }),
      /onLostSession must be 'ignore' or 'error'/,
    );
  });

  it('data JSON cannot hold, arrays, reserved keys and empty ids, with typed errors', async () => {
    const store = toExpressStore(memory());
    const [big] = await call((cb) =>
      store.set('some-session-id-000000000', { n: 1n } as never, cb),
    );
    assert.equal((big as { code: string }).code, 'INVALID_SESSION_DATA');
    const [arr] = await call((cb) => store.set('some-session-id-000000000', [] as never, cb));
    assert.match((arr as Error).message, /session must be an object/);
    const [reserved] = await call((cb) =>
      store.set('some-session-id-000000000', { cookie: cookie(1000), __ssjs_express: 1 }, cb),
    );
    assert.equal((reserved as { code: string }).code, 'INVALID_SESSION_DATA');
    const [empty] = await call((cb) => store.get('', cb));
    assert.equal((empty as { code: string }).code, 'INVALID_SESSION_ID');
  });

  it("a store's untyped failure arrives as StoreUnavailableError with the cause", async () => {
    const failing = new FailingStore();
    stores.push(failing);
    const [error] = await call((cb) =>
      toExpressStore(failing).get('any-session-id-00000000000', cb),
    );
    assert.equal((error as { code: string }).code, 'STORE_UNAVAILABLE');
    assert.equal(((error as Error).cause as Error).message, 'disk on fire');
  });
});

describe('toExpressStore writes', () => {
  it('a plain object as a whole (upsert): keys it lacks are removed', async () => {
    const inner = memory();
    const store = toExpressStore(inner);
    const id = 'plain-object-session-0000000';
    await call((cb) => store.set(id, { cookie: cookie(60_000), a: 1 }, cb));
    await call((cb) => store.set(id, { cookie: cookie(60_000), b: 2 }, cb));
    const [, got] = await call<Record<string, unknown>>((cb) => store.get(id, cb as never));
    const { cookie: _c, ...data } = got!;
    assert.deepEqual(data, { b: 2 });
  });

  it('a new session never takes over a live one with the same id', async () => {
    const store = toExpressStore(memory());
    const id = 'colliding-session-id-0000000';
    const fresh = (value: string) => {
      const req = { sessionID: id, sessionStore: store };
      const RealSession = realSession.Session as unknown as new (r: object, d: object) => object;
      const sess = new RealSession(req, { cookie: new realSession.Cookie() });
      (sess as unknown as Record<string, string>).who = value;
      return sess;
    };
    assert.deepEqual(await call((cb) => store.set(id, fresh('first'), cb)), [null, undefined]);
    const [error] = await call((cb) => store.set(id, fresh('second'), cb));
    assert.equal((error as { code: string }).code, 'SESSION_COLLISION');
    const [, got] = await call<Record<string, unknown>>((cb) => store.get(id, cb as never));
    assert.equal(got!.who, 'first');
  });

  it('a cookie that has already expired ends the session, on set and on touch', async () => {
    const inner = memory();
    const store = toExpressStore(inner, { onLostSession: 'error' });
    const id = 'expiring-session-id-00000000';
    await call((cb) => store.set(id, { cookie: cookie(60_000), a: 1 }, cb));
    await call((cb) => store.touch(id, { cookie: cookie(-1000) }, cb));
    assert.equal(await inner.get(id), undefined);
    await call((cb) => store.set(id, { cookie: cookie(60_000), a: 1 }, cb));
    await call((cb) => store.set(id, { cookie: cookie(-1000), a: 1 }, cb));
    assert.equal(await inner.get(id), undefined);
    const [lost] = await call((cb) => store.touch(id, { cookie: cookie(60_000) }, cb));
    assert.equal((lost as { code: string }).code, 'SESSION_DESTROYED');
  });

  it('clear and length call back', async () => {
    const store = toExpressStore(memory());
    await call((cb) => store.set('a-session-id-0000000000000000', { cookie: cookie(60_000) }, cb));
    assert.deepEqual(await call((cb) => store.length(cb)), [null, 1]);
    assert.deepEqual(await call((cb) => store.clear(cb)), [null, undefined]);
    assert.deepEqual(await call((cb) => store.length(cb)), [null, 0]);
  });
});

describe("the drop-in's Store, Session and Cookie", () => {
  it('Cookie: maxAge must be a number; serialize refuses attributes that could break the header', () => {
    const c = new Cookie({ maxAge: 1000, sameSite: true, priority: 'low' });
    assert.throws(() => {
      c.maxAge = 'soon' as never;
    }, /maxAge must be a number or Date/);
    assert.throws(() => new Cookie(5 as never), /argument options must be a object/);
    assert.match(c.serialize('sid', 'v'), /; Priority=Low; SameSite=Strict$/);
    const data = c.data;
    assert.throws(() => serializeCookie('bad name', 'v', data), /cookie name/);
    assert.throws(() => serializeCookie('n', 'v', { ...data, domain: 'a;b' }), /cookie.domain/);
    assert.throws(() => serializeCookie('n', 'v', { ...data, path: '/\n' }), /cookie.path/);
    assert.throws(
      () => serializeCookie('n', 'v', { ...data, expires: 'x' as never }),
      /cookie.expires/,
    );
    assert.throws(() => serializeCookie('n', 'v', { ...data, priority: 'top' }), /priority/);
    assert.throws(
      () => serializeCookie('n', 'v', { ...data, sameSite: 'odd' as never }),
      /sameSite/,
    );
  });

  it('Store#load gives a Session, or nothing; Session#reload reports a missing session', async () => {
    const store = new dropIn.MemoryStore();
    const id = 'loaded-session-id-0000000000';
    await call((cb) => store.set(id, { cookie: cookie(60_000), a: 1 }, cb));
    const [, loaded] = await call<Session>((cb) => store.load(id, cb));
    assert.ok(loaded instanceof Session);
    assert.equal(loaded.a, 1);
    assert.deepEqual(await call((cb) => store.load('missing-session-id-000000000', cb)), [
      undefined,
      undefined,
    ]);
    loaded.save();
    await call((cb) => store.destroy(id, cb));
    const [error] = await call((cb) => loaded.reload(cb));
    assert.match((error as Error).message, /failed to load session/);
    const failing = new FailingStore();
    stores.push(failing);
    const req = { sessionID: id, sessionStore: toExpressStore(failing) };
    const [storeError] = await call((cb) => new Session(req as never).reload(cb));
    assert.equal((storeError as { code: string }).code, 'STORE_UNAVAILABLE');
  });
});

describe('the drop-in middleware', () => {
  it('a second session middleware leaves the first one’s session alone', async () => {
    const nested = await listen((req, res) => {
      const first = dropIn({ secret: 's', resave: false, saveUninitialized: false });
      const second = dropIn({ secret: 's', resave: false, saveUninitialized: false });
      first(req, res, () => {
        const mine = (req as unknown as { session: object }).session;
        second(req, res, () => {
          res.end(String((req as unknown as { session: object }).session === mine));
        });
      });
    });
    try {
      assert.equal((await new Client(nested.url).get('/')).body, 'true');
    } finally {
      await nested.close();
    }
  });

  it('a store failure or a stored session without a cookie goes to next(err)', async () => {
    const failing = new FailingStore();
    stores.push(failing);
    for (const [session, store, poison] of [
      [ours, failing, false],
      [real, new realSession.MemoryStore(), true],
      [ours, new realSession.MemoryStore(), true],
    ] as const) {
      const server = await listen(makeApp(session, { store }));
      try {
        const client = new Client(server.url);
        await client.get('/set/a/1');
        if (poison) {
          const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
          for (const sid of Object.keys(sessions)) sessions[sid] = '{"a":"1"}';
        }
        const reply = await client.get('/data');
        assert.equal(reply.status, failing === store ? 503 : 500);
      } finally {
        await server.close();
      }
    }
  });

  it('adds to req and res the properties express-session adds, and nothing else', async () => {
    const hooks = Symbol.for('session-store-js.express-session.hooks');
    const added = async (session: typeof ours) => {
      const app = express();
      const addedTo = trackAddedKeys(app);
      app.use(session({ secret: 's', resave: false, saveUninitialized: false }));
      app.get('/', (req, res) => {
        (req as unknown as { session: Record<string, unknown> }).session.a = 1;
        const diff = (o: object) =>
          addedTo(o)
            // `route` is Express's; `_parsedOriginalUrl` is parseurl's cache, which
            // express-session fills.
            .filter((key) => key !== hooks)
            .filter((key) => key !== 'route' && key !== '_parsedOriginalUrl')
            .map(String)
            .sort();
        res.json({ req: diff(req), res: diff(res) });
      });
      const server = await listen(app);
      try {
        return (await new Client(server.url).get('/')).json<object>();
      } finally {
        await server.close();
      }
    };
    const expected = await added(real);
    assert.deepEqual(expected, {
      req: ['session', 'sessionID', 'sessionStore'],
      res: ['end', 'writeHead'],
    });
    assert.deepEqual(await added(ours), expected);
  });

  it('res.end with a callback, a Buffer, or a Content-Length set by hand', async () => {
    const middleware = dropIn({ secret: 's', resave: false, saveUninitialized: true });
    const server = await listen((req, res) => {
      middleware(req, res, () => {
        const url = req.url ?? '/';
        if (url === '/callback') {
          res.write('streamed ');
          res.end(() => {});
        } else if (url === '/chunk-callback') {
          res.end('with callback', () => {});
        } else if (url === '/length') {
          res.setHeader('Content-Length', 5);
          res.end('hello');
        } else {
          res.setHeader('Content-Length', 6);
          res.end(Buffer.from('buffer'));
        }
      });
    });
    try {
      for (const [path, body] of [
        ['/callback', 'streamed '],
        ['/chunk-callback', 'with callback'],
        ['/length', 'hello'],
        ['/buffer', 'buffer'],
      ] as const) {
        const reply = await new Client(server.url).get(path);
        assert.equal(reply.body, body);
        assert.equal(reply.cookiesNamed('connect.sid').length, 1, path);
      }
    } finally {
      await server.close();
    }
  });

  it('refuses a store without get/set/destroy and an empty secret', () => {
    assert.throws(
      () => dropIn({ store: {} as never, secret: 's' }),
      /store must have a get method/,
    );
    assert.throws(() => dropIn({ secret: [''] }), /secret must be a non-empty string/);
    assert.throws(() => dropIn({ secret: [] }), /secret option array must contain/);
  });
});
