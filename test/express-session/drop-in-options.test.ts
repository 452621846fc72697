/**
 * One describe per express-session option. Each scenario runs over real HTTP on the real
 * express-session and on the drop-in, asserts express-session's documented behaviour, and that
 * both give the same responses and the same cookie attributes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import cookieParser from 'cookie-parser';
import express from 'express';
import realSession from 'express-session';
import dropIn from '../../src/express-session/index.js';
import { MemoryStore as OurMemoryStore } from '../../src/index.js';
import { Client, listen, type Reply, type SetCookie } from '../helpers/http.js';
import { makeApp } from './app.js';
import { type Factory, ours, real } from './impls.js';

const stores: OurMemoryStore[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

/** A Set-Cookie line without what differs per run (the id and the Expires date). */
function shape(c: SetCookie) {
  const attributes = Object.fromEntries(
    [...c.attributes].map(([k, v]) => [k, k === 'expires' ? 'set' : v]),
  );
  return { name: c.name, signed: /^s%3A.+\..+$/.test(c.value), attributes };
}

interface Outcome {
  replies: Reply[];
  shapes: ReturnType<typeof shape>[][];
}

/**
 * Runs `paths` with one client on an app built by `build` (given the implementation), once per
 * implementation; asserts both gave the same statuses, bodies (when `sameBodies`) and cookies.
 */
async function both(
  options: Record<string, unknown>,
  paths: Array<string | [string, Record<string, string>]>,
  extra?: (app: express.Express) => void,
  {
    sameBodies = true,
    before,
  }: { sameBodies?: boolean; before?: (app: express.Express) => void } = {},
): Promise<{ real: Outcome; ours: Outcome }> {
  const run = async (session: Factory): Promise<Outcome> => {
    let app: express.Express;
    if (before) {
      app = express();
      before(app);
      const inner = makeApp(session, options);
      app.use(inner);
    } else {
      app = makeApp(session, options);
    }
    extra?.(app);
    const server = await listen(app);
    try {
      const client = new Client(server.url);
      const replies: Reply[] = [];
      for (const p of paths) {
        const [path, headers] = typeof p === 'string' ? [p, undefined] : p;
        replies.push(await client.get(path, headers));
      }
      return { replies, shapes: replies.map((r) => r.cookies.map(shape)) };
    } finally {
      await server.close();
    }
  };
  const r = await run(real);
  const o = await run(ours);
  assert.deepEqual(
    o.replies.map((x) => x.status),
    r.replies.map((x) => x.status),
  );
  if (sameBodies) {
    assert.deepEqual(
      o.replies.map((x) => x.body.replace(/"(id|old)":"[^"]*"/g, '"$1":"…"')),
      r.replies.map((x) => x.body.replace(/"(id|old)":"[^"]*"/g, '"$1":"…"')),
    );
  }
  assert.deepEqual(o.shapes, r.shapes);
  return { real: r, ours: o };
}

describe('name', () => {
  it("defaults to 'connect.sid' and can be changed", async () => {
    const a = await both({}, ['/']);
    assert.equal(a.ours.shapes[0]![0]!.name, 'connect.sid');
    const b = await both({ name: 'app.sid' }, ['/', '/']);
    assert.equal(b.ours.shapes[0]![0]!.name, 'app.sid');
    assert.equal(b.ours.replies[1]!.body, 'views=2');
  });
});

describe('key (the old name of name)', () => {
  it('is used when name is absent', async () => {
    const r = await both({ key: 'legacy.sid' }, ['/', '/']);
    assert.equal(r.ours.shapes[0]![0]!.name, 'legacy.sid');
    assert.equal(r.ours.replies[1]!.body, 'views=2');
  });
});

describe('secret', () => {
  it('an array signs with the first and accepts every one', async () => {
    for (const session of [real, ours]) {
      const first = await listen(makeApp(session, { secret: 'old secret' }));
      const client = new Client(first.url);
      await client.get('/');
      const oldCookie = client.jar.get('connect.sid')!;
      await first.close();
      const app = makeApp(session, { secret: ['new secret', 'old secret'], store: undefined });
      const second = await listen(app);
      // The memory store went with the first server: the old signature is accepted (a new
      // session, not an error) and the new cookie is signed with the first secret.
      const reply = await new Client(second.url).get('/', { cookie: `connect.sid=${oldCookie}` });
      assert.equal(reply.status, 200);
      await second.close();
    }
    const store = new OurMemoryStore();
    stores.push(store);
    const a = await listen(makeApp(ours, { secret: 'old secret', store }));
    const client = new Client(a.url);
    await client.get('/');
    await a.close();
    const b = await listen(makeApp(ours, { secret: ['new secret', 'old secret'], store }));
    const again = new Client(b.url, client.jar);
    assert.equal((await again.get('/')).body, 'views=2');
    await b.close();
  });

  it("falls back to req.secret (cookie-parser's secret)", async () => {
    const r = await both({ secret: undefined }, ['/', '/'], undefined, {
      before: (app) => app.use(cookieParser('keyboard cat')),
    });
    assert.equal(r.ours.replies[1]!.body, 'views=2');
  });

  it('missing everywhere: a 500 naming the secret option', async () => {
    const r = await both({ secret: undefined }, ['/'], undefined, { sameBodies: false });
    assert.equal(r.ours.replies[0]!.status, 500);
    const app = express();
    app.use(ours({ resave: false, saveUninitialized: false }));
    app.use(
      (err: Error, _req: express.Request, res: express.Response, _n: express.NextFunction) => {
        res.status(500).send(err.message);
      },
    );
    const server = await listen(app);
    assert.match((await new Client(server.url).get('/')).body, /secret option required/);
    await server.close();
  });
});

describe('store', () => {
  it('defaults to an in-process MemoryStore', async () => {
    const r = await both({}, ['/', '/', '/']);
    assert.equal(r.ours.replies[2]!.body, 'views=3');
  });

  it('takes an express-session store (its MemoryStore) or a session-store-js store', async () => {
    for (const store of [new realSession.MemoryStore(), new OurMemoryStore()]) {
      if (store instanceof OurMemoryStore) stores.push(store);
      const server = await listen(makeApp(ours, { store }));
      const client = new Client(server.url);
      await client.get('/');
      assert.equal((await client.get('/')).body, 'views=2');
      await server.close();
    }
  });
});

describe('cookie', () => {
  it('attributes: path, domain, httpOnly, sameSite, partitioned, priority, maxAge', async () => {
    const cookie = {
      path: '/',
      domain: 'example.test',
      httpOnly: false,
      sameSite: 'strict',
      partitioned: true,
      priority: 'high',
      maxAge: 60_000,
    };
    const r = await both({ cookie }, ['/']);
    const attrs = r.ours.shapes[0]![0]!.attributes;
    assert.deepEqual(attrs, {
      path: '/',
      domain: 'example.test',
      samesite: 'Strict',
      partitioned: true,
      priority: 'High',
      expires: 'set',
    });
  });

  it('a request outside cookie.path gets no session', async () => {
    const r = await both({ cookie: { path: '/app' } }, ['/']);
    assert.equal(r.ours.replies[0]!.status, 500, 'req.session is undefined outside the path');
  });

  it('can be a function of the request', async () => {
    const cookie = (req: express.Request) => ({ maxAge: req.url === '/' ? 1_000 : 2_000 });
    const r = await both({ cookie }, ['/']);
    assert.ok(r.ours.shapes[0]![0]!.attributes.expires);
  });

  it("secure: true sends no cookie over HTTP; 'auto' follows the protocol", async () => {
    const r = await both({ cookie: { secure: true } }, ['/', '/']);
    assert.deepEqual(r.ours.shapes, [[], []]);
    assert.equal(r.ours.replies[1]!.body, 'views=1');
    const https = { 'x-forwarded-proto': 'https' };
    const auto = await both({ cookie: { secure: 'auto', sameSite: 'auto' }, proxy: true }, [
      ['/', https],
      '/data',
    ]);
    assert.equal(auto.ours.shapes[0]![0]!.attributes.secure, true);
    assert.equal(auto.ours.shapes[0]![0]!.attributes.samesite, 'None');
    const plain = await both({ cookie: { secure: 'auto', sameSite: 'auto' }, proxy: true }, ['/']);
    assert.equal(plain.ours.shapes[0]![0]!.attributes.secure, undefined);
    assert.equal(plain.ours.shapes[0]![0]!.attributes.samesite, 'Lax');
  });
});

describe('genid', () => {
  it('makes the session ids', async () => {
    let n = 0;
    const r = await both({ genid: () => `custom-${n++}` }, ['/set/a/1'], undefined, {
      sameBodies: false,
    });
    assert.match(r.ours.replies[0]!.json<{ id: string }>().id, /^custom-\d+$/);
    assert.throws(
      () => ours({ genid: 'nope', secret: 's', resave: false }),
      /genid option must be a function/,
    );
  });

  it('ids outside ASCII keep their session across requests, as in express-session', async () => {
    // The signed value is remembered after its first check: the id that comes back must be the
    // id that was signed, character for character, also beyond Latin-1.
    let n = 0;
    const r = await both(
      { genid: () => `Łódź-ünï-${n++}` },
      ['/set/a/1', '/data', '/data'],
      undefined,
      { sameBodies: false },
    );
    for (const outcome of [r.real, r.ours]) {
      const first = outcome.replies[0]!.json<{ id: string }>().id;
      assert.match(first, /^Łódź-ünï-\d+$/);
      for (const reply of outcome.replies.slice(1)) {
        const { id, data } = reply.json<{ id: string; data: { a?: string } }>();
        assert.equal(id, first);
        assert.equal(data.a, '1');
      }
    }
  });
});

describe('resave', () => {
  for (const resave of [true, false]) {
    it(`${resave}: an unmodified session is ${resave ? '' : 'not '}written back`, async () => {
      for (const session of [real, ours]) {
        const store = session === real ? new realSession.MemoryStore() : new dropIn.MemoryStore();
        let sets = 0;
        const server = await listen(makeApp(session, { store, resave }));
        const client = new Client(server.url);
        await client.get('/set/a/1');
        const set = store.set.bind(store);
        // An instance override, as instrumentation installs one: every call must reach it.
        store.set = (sid: string, data: never, cb?: (e?: unknown) => void) => {
          sets++;
          set(sid, data, cb);
        };
        await client.get('/data');
        assert.equal(sets, resave ? 1 : 0);
        await server.close();
      }
    });
  }
});

describe('saveUninitialized', () => {
  it('true: a new untouched session is stored and gets a cookie; false: neither', async () => {
    const yes = await both({ saveUninitialized: true }, ['/nothing']);
    assert.equal(yes.ours.shapes[0]!.length, 1);
    const no = await both({ saveUninitialized: false }, ['/nothing']);
    assert.equal(no.ours.shapes[0]!.length, 0);
  });
});

describe('rolling', () => {
  it('true: the cookie goes out on every response; false: only when the session changes', async () => {
    const on = await both({ rolling: true, cookie: { maxAge: 60_000 } }, ['/set/a/1', '/data']);
    assert.equal(on.ours.shapes[1]!.length, 1);
    const off = await both({ cookie: { maxAge: 60_000 } }, ['/set/a/1', '/data']);
    assert.equal(off.ours.shapes[1]!.length, 0);
  });
});

describe('proxy', () => {
  const https = { 'x-forwarded-proto': 'https' };
  it('true trusts X-Forwarded-Proto; false and unset (no trust proxy) do not', async () => {
    const trusted = await both({ proxy: true, cookie: { secure: true } }, [['/', https]]);
    assert.equal(trusted.ours.shapes[0]!.length, 1);
    const refused = await both({ proxy: false, cookie: { secure: true } }, [['/', https]]);
    assert.equal(refused.ours.shapes[0]!.length, 0);
    const unset = await both({ cookie: { secure: true } }, [['/', https]]);
    assert.equal(unset.ours.shapes[0]!.length, 0);
  });
});

describe('unset', () => {
  const nullRoute = (app: express.Express) => {
    app.get('/null', (req, res) => {
      (req as { session?: unknown }).session = null;
      res.send('ok');
    });
  };
  it("'destroy' removes the session when req.session is set to null; 'keep' keeps it", async () => {
    const d = await both({ unset: 'destroy' }, ['/set/a/1', '/null', '/data'], nullRoute);
    assert.deepEqual(d.ours.replies[2]!.json<{ data: object }>().data, {});
    const k = await both({ unset: 'keep' }, ['/set/a/1', '/null', '/data'], nullRoute);
    assert.deepEqual(k.ours.replies[2]!.json<{ data: object }>().data, { a: '1' });
    assert.throws(() => ours({ unset: 'maybe', secret: 's' }), /unset option must be/);
  });
});

describe('sessions in a route', () => {
  it('req.sessionStore is the store the middleware writes to', async () => {
    const store = new OurMemoryStore();
    stores.push(store);
    const app = makeApp(ours, { store });
    app.get('/store', (req, res) => {
      res.json({
        same: (req as { sessionStore?: { store?: unknown } }).sessionStore?.store === store,
      });
    });
    const server = await listen(app);
    assert.deepEqual((await new Client(server.url).get('/store')).json(), { same: true });
    await server.close();
  });
});
