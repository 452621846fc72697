/**
 * The manager and its middleware over real HTTP, one `describe` per option or behaviour (in the
 * style of express-session's tests): the cookie format, Express 5 and 4 with and without
 * cookie-parser, several `set`s in one request, `set` before a redirect, two managers on one app,
 * the API surface and option validation.
 */

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Express } from 'express';
import expressSession from 'express-session';
// @ts-expect-error `express4` is an npm alias of express@4, which ships no type declarations
import express4Untyped from 'express4';
import SessionManager, {
  InvalidOptionError,
  MemoryStore,
  SessionManager as NamedSessionManager,
  NoSessionMiddlewareError,
  type SessionManagerOptions,
  type SessionRequest,
} from '../src/index.js';
import {
  Client,
  expiresOf,
  fetchReply,
  listen,
  type Reply,
  type SetCookie,
} from './helpers/http.js';
import { assertRefused } from './helpers/refusal.js';
import { addSessionWriteRoutes, h } from './helpers/routes.js';

const express4 = express4Untyped as typeof express;

const SECRET = 'http-core test secret, long enough: 0123456789abcdef';
const VECTOR_SECRET = 'keyboard cat';
const VECTOR_ID = 'DJW_JaSWR-41-zW3df0G0g7HB8t5bwK4';
const VECTOR_COOKIE =
  's%3ADJW_JaSWR-41-zW3df0G0g7HB8t5bwK4.Mlxlz9E4Fec%2BzWdLz%2F1GwBnUpo9w1vQ2H2FDxz1GAOY';
const HOUR = 3_600_000;
const EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** Async route for Express 4 and 5 alike: a rejection goes to `next` (Express 4 needs this). */
const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(error.status ?? 500).json({ code: error.code ?? 'UNKNOWN' });
};

type Manager = SessionManager;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The routes every app gets. */
function addRoutes(app: Express, sm: Manager): void {
  addSessionWriteRoutes(app, sm);
  app.get(
    '/read/:key',
    h(async (req, res) => {
      const value = await sm.get(req, req.params.key as string);
      res.json({ value: value ?? null, id: req.sessionID ?? null, own: sm.sessionId(req) ?? null });
    }),
  );
  app.get(
    '/destroy',
    h(async (req, res) => {
      await sm.destroy(req);
      res.send('destroyed');
    }),
  );
  app.get(
    '/multi',
    h(async (req, res) => {
      await sm.set(req, 'a', 1);
      res.cookie('app.before', 'x');
      await sm.set(req, 'b', 2);
      await sm.set(req, 'c', 3);
      res.cookie('app.after', 'y');
      await sm.set(req, 'a', 4);
      res.send('multi');
    }),
  );
  app.get(
    '/parallel',
    h(async (req, res) => {
      const [, , , read] = await Promise.all([
        sm.set(req, 'p1', 1),
        sm.set(req, 'p2', 2),
        sm.set(req, 'p3', 3),
        sm.get(req, 'p3'),
      ]);
      res.json({ read: read ?? null, id: req.sessionID ?? null });
    }),
  );
  app.get(
    '/redirect',
    h(async (req, res) => {
      res.status(302).location('/read/flash');
      await sm.set(req, 'flash', 'saved before redirect');
      res.end();
    }),
  );
  app.get(
    '/redirect2',
    h(async (req, res) => {
      await sm.set(req, 'flash', 'redirect helper');
      res.redirect('/read/flash');
    }),
  );
  app.get(
    '/cached',
    h(async (req, res) => {
      res.set('Cache-Control', 'private, max-age=0');
      await sm.set(req, 'k', 'v');
      res.send('ok');
    }),
  );
  app.get(
    '/unset/:key',
    h(async (req, res) => {
      await sm.set(req, req.params.key as string, undefined);
      res.json({ id: req.sessionID ?? null });
    }),
  );
  app.get('/plain', (_req, res) => {
    res.send('no session here');
  });
}

interface Setup {
  manager: Manager;
  client: Client;
  url: string;
  app: Express;
}

async function setup(
  options: Partial<SessionManagerOptions> = {},
  config: { factory?: typeof express; parser?: 'plain' | 'secret' | 'same-secret' } = {},
): Promise<Setup> {
  const manager = new SessionManager({ secret: SECRET, ...options });
  const app = (config.factory ?? express)();
  if (config.parser === 'plain') app.use(cookieParser());
  if (config.parser === 'secret') app.use(cookieParser('cookie-parser secret'));
  if (config.parser === 'same-secret') app.use(cookieParser(SECRET));
  app.use(manager.middleware());
  addRoutes(app, manager);
  app.use(errorHandler);
  const server = await listen(app);
  cleanups.push(async () => {
    await server.close();
    await manager.close();
  });
  return { manager, client: new Client(server.url), url: server.url, app };
}

function only(reply: Reply, name = 'sid'): SetCookie {
  const cookies = reply.cookiesNamed(name);
  assert.equal(
    cookies.length,
    1,
    `expected one Set-Cookie for ${name}: ${reply.headers.get('set-cookie')}`,
  );
  return cookies[0]!;
}

function macOf(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

describe('cookie format (express-session compatible)', () => {
  it('issues s:<id>.<unpadded base64 HMAC-SHA256 of the id>, URL-encoded', async () => {
    const { client } = await setup();
    const reply = await client.get('/write/user/tobi');
    const cookie = only(reply);
    const decoded = decodeURIComponent(cookie.value);
    const match = /^s:([A-Za-z0-9_-]{32})\.([A-Za-z0-9+/]{43})$/.exec(decoded);
    assert.ok(match, decoded);
    const [, id, mac] = match;
    assert.equal(id, reply.json<{ id: string }>().id);
    assert.equal(mac, macOf(id!, SECRET));
    assert.equal(cookie.value, encodeURIComponent(decoded));
  });

  it('accepts the express-session test-vector cookie for a session the store holds', async () => {
    const store = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 });
    const now = Date.now();
    const data = Object.assign(Object.create(null), { user: 'tobi' });
    // expires a full default maxAge (24 h) from now, so rolling has nothing to renew on a read
    const expiresAt = now + 86_400_000;
    assert.ok(await store.create(VECTOR_ID, { data, createdAt: now, expiresAt }));
    const { client } = await setup({
      store,
      cookieName: 'connect.sid',
      secret: VECTOR_SECRET,
      renewOnWrite: 'always',
    });
    client.jar.set('connect.sid', VECTOR_COOKIE);
    const read = await client.get('/read/user');
    assert.equal(read.status, 200);
    assert.deepEqual(read.json(), { value: 'tobi', id: VECTOR_ID, own: VECTOR_ID });
    assert.equal(read.cookies.length, 0, 'a fresh session read needs no new cookie');
    // a write re-sends exactly the same signed value
    const write = await client.get('/write/role/admin');
    assert.equal(only(write, 'connect.sid').value, VECTOR_COOKIE);
    assert.equal((await store.get(VECTOR_ID))?.data.role, 'admin');
  });

  it('reads a cookie issued by express-session itself (drop-in migration)', async () => {
    const legacy = express();
    legacy.use(
      expressSession({ secret: SECRET, resave: false, saveUninitialized: true, name: 'sid' }),
    );
    legacy.get('/', (_req, res) => {
      res.send('legacy');
    });
    const legacyServer = await listen(legacy);
    cleanups.push(() => legacyServer.close());
    const legacyReply = await fetchReply(`${legacyServer.url}/`);
    const legacyCookie = only(legacyReply);
    const id = /^s:([^.]+)\./.exec(decodeURIComponent(legacyCookie.value))![1]!;

    const store = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 });
    const now = Date.now();
    await store.create(id, {
      data: Object.assign(Object.create(null), { migrated: true }),
      createdAt: now,
      expiresAt: now + HOUR,
    });
    const { client } = await setup({ store });
    client.jar.set('sid', legacyCookie.value);
    assert.deepEqual((await client.get('/read/migrated')).json(), { value: true, id, own: id });
  });
});

const matrix: [string, typeof express, undefined | 'plain' | 'secret' | 'same-secret'][] = [
  ['Express 5', express, undefined],
  ['Express 5 + cookie-parser', express, 'plain'],
  ['Express 5 + cookie-parser(secret)', express, 'secret'],
  ['Express 5 + cookie-parser(same secret)', express, 'same-secret'],
  ['Express 4', express4, undefined],
  ['Express 4 + cookie-parser', express4, 'plain'],
  ['Express 4 + cookie-parser(secret)', express4, 'secret'],
  ['Express 4 + cookie-parser(same secret)', express4, 'same-secret'],
];

for (const [name, factory, parser] of matrix) {
  describe(name, () => {
    it('counts visits 1, 2, 3 and keeps a second visitor apart; the cookie goes out at creation', async () => {
      const { client, url } = await setup({}, { factory, ...(parser ? { parser } : {}) });
      for (const n of [1, 2, 3]) {
        const reply = await client.get('/');
        assert.equal(reply.status, 200);
        assert.equal(reply.body, `visits=${n}`);
        if (n > 1) {
          // renewOnWrite 'touchAfter' (the default): writes within touchAfter send no cookie.
          assert.deepEqual(reply.cookiesNamed('sid'), []);
          assert.equal(reply.headers.get('cache-control'), null);
          continue;
        }
        const cookie = only(reply);
        assert.equal(cookie.attributes.get('httponly'), true);
        assert.equal(cookie.attributes.get('samesite'), 'Lax');
        assert.equal(cookie.attributes.get('path'), '/');
        assert.equal(cookie.attributes.has('secure'), false);
        assert.equal(reply.headers.get('cache-control'), 'no-store');
      }
      const other = new Client(url);
      assert.equal((await other.get('/')).body, 'visits=1');
      assert.equal((await client.get('/')).body, 'visits=4');
    });

    it('a route without sessions costs no cookie', async () => {
      const { client } = await setup({}, { factory, ...(parser ? { parser } : {}) });
      const reply = await client.get('/plain');
      assert.equal(reply.body, 'no session here');
      assert.equal(reply.cookies.length, 0);
      assert.equal(reply.headers.get('cache-control'), null);
    });

    it('destroy clears the cookie and the next visit starts over', async () => {
      const { client, manager } = await setup({}, { factory, ...(parser ? { parser } : {}) });
      const first = await client.get('/write/k/v');
      const id = first.json<{ id: string }>().id;
      const cookieValue = client.jar.get('sid')!;
      const destroyed = await client.get('/destroy');
      const cleared = only(destroyed);
      assert.equal(cleared.value, '');
      assert.equal(cleared.attributes.get('expires'), EPOCH);
      assert.equal(cleared.attributes.get('path'), '/');
      assert.equal(await manager.store.get(id), undefined);
      assert.equal(client.jar.has('sid'), false);
      // the old cookie is dead
      const replay = await fetchReply(`${client.base}/read/k`, { cookie: `sid=${cookieValue}` });
      assert.deepEqual(replay.json(), { value: null, id: null, own: null });
      const again = await client.get('/');
      assert.equal(again.body, 'visits=1');
    });

    it('store errors reach the error handler (async routes forward rejections)', async () => {
      const { client } = await setup({}, { factory, ...(parser ? { parser } : {}) });
      const reply = await client.get('/write/__proto__/x');
      assert.equal(reply.status, 400);
      assert.deepEqual(reply.json(), { code: 'INVALID_SESSION_DATA' });
    });
  });
}

describe('set called several times in one request', () => {
  it('sends one Set-Cookie for the session and keeps the app’s other cookies', async () => {
    for (const factory of [express, express4]) {
      const { client, manager } = await setup({}, { factory });
      const reply = await client.get('/multi');
      assert.equal(reply.status, 200);
      only(reply);
      assert.equal(reply.cookiesNamed('app.before').length, 1);
      assert.equal(reply.cookiesNamed('app.after').length, 1);
      assert.equal(reply.cookies.length, 3);
      assert.equal(await manager.store.length(), 1);
      const all = await manager.getAllSessions();
      assert.deepEqual(
        Object.values(all).map((d) => ({ ...d })),
        [{ a: 4, b: 2, c: 3 }],
      );
      // on the existing session, within touchAfter: the writes land, no session cookie goes out
      const again = await client.get('/multi');
      assert.deepEqual(again.cookiesNamed('sid'), []);
      assert.equal(again.cookies.length, 2);
      assert.equal(await manager.store.length(), 1);
    }
  });
});

describe('set called in parallel in one request', () => {
  it('creates one session and one cookie; a get queued after the sets sees them', async () => {
    for (const factory of [express, express4]) {
      const { client, manager } = await setup({}, { factory });
      const reply = await client.get('/parallel');
      assert.equal(reply.status, 200);
      only(reply);
      const { read, id } = reply.json<{ read: number; id: string }>();
      assert.equal(read, 3);
      assert.equal(await manager.store.length(), 1);
      assert.deepEqual({ ...(await manager.store.get(id))!.data }, { p1: 1, p2: 2, p3: 3 });
    }
  });
});

describe('set when a redirect is prepared', () => {
  it('set after res.status(302).location(...) still delivers the cookie with the redirect', async () => {
    for (const factory of [express, express4]) {
      const { client } = await setup({}, { factory });
      const reply = await client.get('/redirect');
      assert.equal(reply.status, 302);
      assert.equal(reply.headers.get('location'), '/read/flash');
      only(reply);
      const target = await client.get(reply.headers.get('location')!);
      assert.equal(target.json<{ value: string }>().value, 'saved before redirect');
    }
  });

  it('res.redirect after set', async () => {
    for (const factory of [express, express4]) {
      const { client } = await setup({}, { factory });
      const reply = await client.get('/redirect2');
      assert.equal(reply.status, 302);
      only(reply);
      const target = await client.get('/read/flash');
      assert.equal(target.json<{ value: string }>().value, 'redirect helper');
    }
  });

  it('set after the response is sent rejects HEADERS_SENT for a new session', async () => {
    const manager = new SessionManager({ secret: SECRET });
    let caught: unknown;
    const app = express();
    app.use(manager.middleware());
    app.get(
      '/late',
      h(async (req, res) => {
        res.send('sent');
        try {
          await manager.set(req, 'k', 'v');
        } catch (error) {
          caught = error;
        }
      }),
    );
    const server = await listen(app);
    cleanups.push(async () => {
      await server.close();
      await manager.close();
    });
    const reply = await fetchReply(`${server.url}/late`);
    assert.equal(reply.body, 'sent');
    assert.equal(reply.cookies.length, 0);
    await sleep(20);
    assert.equal((caught as { code?: string })?.code, 'HEADERS_SENT');
    assert.equal(await manager.store.length(), 0, 'no orphan session without a cookie');
  });
});

describe('Cache-Control', () => {
  it('responses that set the cookie are no-store unless the app chose a policy', async () => {
    const { client } = await setup();
    assert.equal((await client.get('/cached')).headers.get('cache-control'), 'private, max-age=0');
    const read = await client.get('/read/k');
    assert.equal(read.cookies.length, 0);
  });
});

describe('two managers with different cookie names on one app', () => {
  it('never share a session', async () => {
    const a = new SessionManager({ secret: SECRET, cookieName: 'a.sid' });
    const b = new SessionManager({ secret: SECRET, cookieName: 'b.sid' });
    const app = express();
    app.use(a.middleware());
    app.use(b.middleware());
    app.get(
      '/set/:which/:value',
      h(async (req, res) => {
        const sm = req.params.which === 'a' ? a : b;
        await sm.set(req, 'who', req.params.value as string);
        res.send('ok');
      }),
    );
    app.get(
      '/both',
      h(async (req, res) => {
        res.json({
          a: (await a.get(req, 'who')) ?? null,
          b: (await b.get(req, 'who')) ?? null,
          aId: a.sessionId(req) ?? null,
          bId: b.sessionId(req) ?? null,
        });
      }),
    );
    app.use(errorHandler);
    const server = await listen(app);
    cleanups.push(async () => {
      await server.close();
      await a.close();
      await b.close();
    });
    const client = new Client(server.url);
    const setA = await client.get('/set/a/alice');
    assert.equal(setA.cookiesNamed('a.sid').length, 1);
    assert.equal(setA.cookiesNamed('b.sid').length, 0);
    assert.deepEqual(
      { ...(await client.get('/both')).json<object>(), aId: 0, bId: 0 },
      {
        a: 'alice',
        b: null,
        aId: 0,
        bId: 0,
      },
    );
    await client.get('/set/b/bob');
    const both = (await client.get('/both')).json<Record<string, string>>();
    assert.equal(both.a, 'alice');
    assert.equal(both.b, 'bob');
    assert.notEqual(both.aId, both.bId);
    assert.equal(await a.store.length(), 1);
    assert.equal(await b.store.length(), 1);
    // a's cookie presented under b's name is not b's session
    const swapped = await fetchReply(`${server.url}/both`, {
      cookie: `b.sid=${client.jar.get('a.sid')}`,
    });
    assert.deepEqual(swapped.json(), { a: null, b: null, aId: null, bId: null });
  });
});

describe('option: cookieName', () => {
  it("defaults to 'sid' and is exposed", async () => {
    const { client, manager } = await setup();
    assert.equal(manager.cookieName, 'sid');
    only(await client.get('/'));
  });

  it('uses the configured name and ignores other names', async () => {
    const { client } = await setup({ cookieName: 'custom.sid' });
    const reply = await client.get('/');
    only(reply, 'custom.sid');
    const sid = client.jar.get('custom.sid')!;
    const wrongName = await fetchReply(`${client.base}/read/visits`, { cookie: `sid=${sid}` });
    assert.equal(wrongName.json<{ value: null }>().value, null);
  });
});

describe('option: maxAge', () => {
  it('sets the cookie Expires to now + maxAge', async () => {
    const { client, manager } = await setup({ maxAge: 60_000 });
    assert.equal(manager.maxAge, 60_000);
    const before = Date.now();
    const expires = expiresOf(only(await client.get('/')))!;
    assert.ok(expires >= Math.floor(before / 1000) * 1000 + 60_000 - 1000, String(expires));
    assert.ok(expires <= Date.now() + 60_000 + 1000);
  });

  it('defaults to 24 hours', async () => {
    const { client, manager } = await setup();
    assert.equal(manager.maxAge, 86_400_000);
    const expires = expiresOf(only(await client.get('/')))!;
    assert.ok(Math.abs(expires - (Date.now() + 86_400_000)) < 5000);
  });

  it('a maxAge beyond the Date range never produces an invalid Expires', async () => {
    let setupResult: Setup;
    try {
      setupResult = await setup({ maxAge: 1e16 });
    } catch (error) {
      assert.ok(error instanceof InvalidOptionError);
      return;
    }
    const cookie = only(await setupResult.client.get('/'));
    assert.ok(Number.isFinite(expiresOf(cookie)), cookie.raw);
  });
});

describe('option: absoluteTimeout', () => {
  it('caps the cookie Expires at createdAt + absoluteTimeout', async () => {
    const { client, manager } = await setup({ maxAge: HOUR, absoluteTimeout: 10_000 });
    assert.equal(manager.absoluteTimeout, 10_000);
    const expires = expiresOf(only(await client.get('/')))!;
    assert.ok(expires <= Date.now() + 10_000 + 1000, `${expires - Date.now()}`);
  });
});

describe('option: rolling', () => {
  it('rolling: false never renews on a read', async () => {
    const { client, manager } = await setup({ rolling: false, maxAge: HOUR, touchAfter: 0 });
    const id = (await client.get('/write/a/1')).json<{ id: string }>().id;
    const before = (await manager.store.get(id))!.expiresAt;
    await sleep(20);
    const read = await client.get('/read/a');
    assert.equal(read.cookies.length, 0);
    assert.equal((await manager.store.get(id))!.expiresAt, before);
  });

  it('rolling (default) with touchAfter: 0 renews on every read', async () => {
    const { client, manager } = await setup({ maxAge: HOUR, touchAfter: 0 });
    const id = (await client.get('/write/a/1')).json<{ id: string }>().id;
    const before = (await manager.store.get(id))!.expiresAt;
    await sleep(20);
    const read = await client.get('/read/a');
    only(read);
    assert.ok((await manager.store.get(id))!.expiresAt > before);
  });
});

describe('option: cookie attributes', () => {
  it('domain, path, sameSite, httpOnly, priority reach the Set-Cookie line', async () => {
    const { client } = await setup({
      cookie: {
        domain: 'example.com',
        path: '/',
        sameSite: 'strict',
        httpOnly: false,
        priority: 'high',
      },
    });
    const cookie = only(await client.get('/'));
    assert.equal(cookie.attributes.get('domain'), 'example.com');
    assert.equal(cookie.attributes.get('samesite'), 'Strict');
    assert.equal(cookie.attributes.has('httponly'), false);
    assert.equal(cookie.attributes.get('priority'), 'High');
  });

  it("secure: 'auto' sends Secure behind a TLS proxy when Express trusts it", async () => {
    const { client, app } = await setup();
    app.set('trust proxy', true);
    const cookie = only(await client.get('/', { 'x-forwarded-proto': 'https' }));
    assert.equal(cookie.attributes.get('secure'), true);
    const plain = only(await new Client(client.base).get('/'));
    assert.equal(plain.attributes.has('secure'), false);
  });

  it("secure: 'auto' ignores X-Forwarded-Proto unless Express trusts the proxy", async () => {
    const { client } = await setup();
    const cookie = only(await client.get('/', { 'x-forwarded-proto': 'https' }));
    assert.equal(cookie.attributes.has('secure'), false);
  });

  it('a cookie path scopes the cookie; no Domain by default', async () => {
    const { client } = await setup({ cookie: { path: '/app' } });
    const cookie = only(await client.get('/'));
    assert.equal(cookie.attributes.get('path'), '/app');
    assert.equal(cookie.attributes.has('domain'), false);
  });

  it('secure: false never sends Secure', async () => {
    const { client, app } = await setup({ cookie: { secure: false } });
    app.set('trust proxy', true);
    const cookie = only(await client.get('/', { 'x-forwarded-proto': 'https' }));
    assert.equal(cookie.attributes.has('secure'), false);
  });
});

describe('API surface', () => {
  it('the default export is the SessionManager class', () => {
    assert.equal(SessionManager, NamedSessionManager);
  });

  it('middleware() returns one function; mounting it twice is harmless', async () => {
    const manager = new SessionManager({ secret: SECRET });
    assert.equal(manager.middleware(), manager.middleware());
    const app = express();
    app.use(manager.middleware());
    app.use(manager.middleware());
    addRoutes(app, manager);
    const server = await listen(app);
    cleanups.push(async () => {
      await server.close();
      await manager.close();
    });
    const client = new Client(server.url);
    assert.equal((await client.get('/')).body, 'visits=1');
    assert.equal((await client.get('/')).body, 'visits=2');
  });

  it('req.sessionID and sessionId(req) follow the live session', async () => {
    const { client } = await setup();
    assert.deepEqual((await client.get('/read/x')).json(), { value: null, id: null, own: null });
    const id = (await client.get('/write/x/1')).json<{ id: string }>().id;
    assert.deepEqual((await client.get('/read/x')).json(), { value: '1', id, own: id });
    await client.get('/destroy');
    assert.deepEqual((await client.get('/read/x')).json(), { value: null, id: null, own: null });
  });

  it('touch: false without a session; with one it keeps the data and re-sends the cookie', async () => {
    const { client } = await setup();
    const none = await client.get('/touch');
    assert.deepEqual(none.json(), { touched: false });
    assert.equal(none.cookies.length, 0);
    const first = only(await client.get('/write/k/v'));
    await sleep(1100);
    const touched = await client.get('/touch');
    assert.deepEqual(touched.json(), { touched: true });
    const cookie = only(touched);
    assert.equal(cookie.value, first.value);
    assert.ok(expiresOf(cookie)! > expiresOf(first)!);
    assert.equal((await client.get('/read/k')).json<{ value: string }>().value, 'v');
  });

  it('set(key, undefined) removes only that key; on a visitor without a session it creates nothing', async () => {
    const { client, manager } = await setup();
    const none = await client.get('/unset/a');
    assert.deepEqual(none.json(), { id: null });
    assert.equal(none.cookies.length, 0);
    assert.equal(await manager.store.length(), 0);
    await client.get('/write/a/1');
    const id = (await client.get('/write/b/2')).json<{ id: string }>().id;
    await client.get('/unset/a');
    assert.deepEqual({ ...(await manager.store.get(id))!.data }, { b: '2' });
    assert.equal((await client.get('/read/a')).json<{ value: null }>().value, null);
  });

  it('getAllSessions, sessions() and clearAllSessions', async () => {
    const { url, manager } = await setup();
    const alice = new Client(url);
    const bob = new Client(url);
    await alice.get('/write/name/alice');
    await bob.get('/write/name/bob');
    const all = await manager.getAllSessions();
    assert.deepEqual(
      Object.values(all)
        .map((d) => d.name)
        .sort(),
      ['alice', 'bob'],
    );
    const streamed: string[] = [];
    for await (const [id, data] of manager.sessions()) {
      assert.ok(id in all);
      streamed.push(data.name as string);
    }
    assert.deepEqual(streamed.sort(), ['alice', 'bob']);
    await manager.clearAllSessions();
    assert.equal(Object.keys(await manager.getAllSessions()).length, 0);
    assert.equal(await manager.store.length(), 0);
    assert.equal((await alice.get('/')).body, 'visits=1');
  });

  it('calling get/set on a request that skipped the middleware throws NO_SESSION_MIDDLEWARE', async () => {
    const manager = new SessionManager({ secret: SECRET });
    const req = {} as SessionRequest;
    await assert.rejects(manager.get(req, 'k'), NoSessionMiddlewareError);
    await assert.rejects(manager.set(req, 'k', 'v'), (e: unknown) => {
      return (e as { code?: string }).code === 'NO_SESSION_MIDDLEWARE';
    });
    await manager.close();
  });

  it('typed session data through generics', async () => {
    interface Data {
      visits: number;
      user: { name: string };
    }
    const manager = new SessionManager<Data>({ secret: SECRET });
    const app = express();
    app.use(manager.middleware());
    app.get(
      '/',
      h(async (req, res) => {
        const visits: number | undefined = await manager.get(req, 'visits');
        await manager.set(req, 'visits', (visits ?? 0) + 1);
        await manager.set(req, 'user', { name: 'ann' });
        const user = await manager.get(req, 'user');
        res.send(`${visits ?? 0}:${user?.name}`);
      }),
    );
    const server = await listen(app);
    cleanups.push(async () => {
      await server.close();
      await manager.close();
    });
    const client = new Client(server.url);
    assert.equal((await client.get('/')).body, '0:ann');
    assert.equal((await client.get('/')).body, '1:ann');
  });
});

describe('option validation', () => {
  const bad: [string, unknown, string][] = [
    ['no options', undefined, 'options'],
    ['null options', null, 'options'],
    ['maxAge 0', { secret: SECRET, maxAge: 0 }, 'maxAge'],
    ['maxAge negative', { secret: SECRET, maxAge: -1 }, 'maxAge'],
    ['maxAge as string', { secret: SECRET, maxAge: '3600000' }, 'maxAge'],
    ['maxAge NaN', { secret: SECRET, maxAge: Number.NaN }, 'maxAge'],
    ['maxAge Infinity', { secret: SECRET, maxAge: Number.POSITIVE_INFINITY }, 'maxAge'],
    ['absoluteTimeout 0', { secret: SECRET, absoluteTimeout: 0 }, 'absoluteTimeout'],
    ['absoluteTimeout as string', { secret: SECRET, absoluteTimeout: '1h' }, 'absoluteTimeout'],
    ['rolling as string', { secret: SECRET, rolling: 'yes' }, 'rolling'],
    ['touchAfter negative', { secret: SECRET, touchAfter: -1 }, 'touchAfter'],
    ['maxValueBytes 0', { secret: SECRET, maxValueBytes: 0 }, 'maxValueBytes'],
    ['onEvent not a function', { secret: SECRET, onEvent: 'log' }, 'onEvent'],
    ['storeType unknown', { secret: SECRET, storeType: 'mongo' }, 'storeType'],
    ['storeOptions not an object', { secret: SECRET, storeOptions: 'fast' }, 'storeOptions'],
    ['store not implementing the contract', { secret: SECRET, store: { get() {} } }, 'store'],
    ['cookieName invalid', { secret: SECRET, cookieName: 'my sid' }, 'cookieName'],
    ['cookie null', { secret: SECRET, cookie: null }, 'cookie'],
    [
      'memory storeOptions invalid',
      { secret: SECRET, storeOptions: { cleanupInterval: -1 } },
      'cleanupInterval',
    ],
  ];
  for (const [name, options, option] of bad) {
    it(`rejects ${name}, naming ${option}`, () => {
      assertRefused(() => new SessionManager(options as SessionManagerOptions), option);
    });
  }

  it('accepts a store instance and exposes it', async () => {
    const store = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 });
    const manager = new SessionManager({ secret: SECRET, store });
    assert.equal(manager.store, store);
    await manager.close();
  });
});
