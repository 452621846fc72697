/**
 * The middleware turns Express's `req` and `res` into V8 dictionary-mode objects before adding
 * its properties (Express replaced their prototype, so each added property would otherwise build
 * a hidden class of its own). Checked here: V8 really switches the object (through
 * `%HasFastProperties` in a child process), plain `node:http` objects are left alone, and over
 * real HTTP nothing of the step is visible: the request carries only the properties the
 * middleware documents, and what Express and the app add afterwards works as before.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import { MemoryStore, SessionManager, type SessionRequest } from '../src/index.js';
import { Client, listen, trackAddedKeys } from './helpers/http.js';

const SECRET = 'request-properties test secret, long enough: 0123456789';

/** Runs `code` in a child with V8's natives syntax and the built helper bound to `prepare`. */
function inV8(code: string): string {
  const helper = new URL('../dist/esm/own-properties.js', import.meta.url).href;
  const script = `import { prepareForProperties as prepare } from ${JSON.stringify(helper)};\n${code}`;
  return execFileSync(
    process.execPath,
    ['--allow-natives-syntax', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
    },
  ).trim();
}

describe('properties the middleware adds to req and res', () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const close of closers) await close();
  });

  it('an object whose prototype was replaced becomes a dictionary; one with its Node prototype stays fast', () => {
    const out = inV8(`
      import { IncomingMessage } from 'node:http';
      import { Socket } from 'node:net';
      const swapped = new IncomingMessage(new Socket());
      Object.setPrototypeOf(swapped, Object.create(IncomingMessage.prototype));
      const before = %HasFastProperties(swapped);
      prepare(swapped, IncomingMessage.prototype);
      const plain = new IncomingMessage(new Socket());
      prepare(plain, IncomingMessage.prototype);
      console.log(JSON.stringify([before, %HasFastProperties(swapped), %HasFastProperties(plain),
        Reflect.ownKeys(swapped).filter((k) => typeof k === 'symbol' && k.description?.includes('scratch')).length]));
    `);
    assert.deepEqual(JSON.parse(out), [true, false, true, 0]);
  });

  it('over Express, the request gains only the session state and sessionID, and Express still works', async () => {
    const sessions = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    const app = express();
    const addedTo = trackAddedKeys(app);
    app.use(sessions.middleware());
    app.get('/:name', async (req, res) => {
      await sessions.set(req as SessionRequest, 'visits', 1);
      res.locals.seen = req.params.name;
      const added = (o: object) =>
        addedTo(o)
          .map((key) => (typeof key === 'symbol' ? `symbol:${key.description}` : key))
          .filter((key) => key !== 'route' && key !== 'params')
          .sort();
      res.json({ req: added(req), res: added(res), locals: res.locals.seen });
    });
    const server = await listen(app);
    closers.push(() => server.close());
    const reply = await new Client(server.url).get('/alice');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), {
      req: ['sessionID', 'symbol:session-store-js'],
      res: [],
      locals: 'alice',
    });
  });

  it('under express-session, toExpressStore turns a loaded session request (and its res) into dictionaries', () => {
    const dist = (path: string) =>
      JSON.stringify(new URL(`../dist/esm/${path}`, import.meta.url).href);
    const out = execFileSync(
      process.execPath,
      [
        '--allow-natives-syntax',
        '--input-type=module',
        '-e',
        `
        import http from 'node:http';
        import express from 'express';
        import session from 'express-session';
        import { toExpressStore } from ${dist('express-session/index.js')};
        import { MemoryStore } from ${dist('index.js')};
        const app = express();
        app.use(session({ store: toExpressStore(new MemoryStore()), secret: ${JSON.stringify(SECRET)},
          resave: false, saveUninitialized: false }));
        const seen = [];
        app.get('/', (req, res) => {
          req.session.visits = (req.session.visits ?? 0) + 1;
          const scratch = Reflect.ownKeys(req).filter((k) => typeof k === 'symbol' && k.description?.includes('scratch'));
          seen.push([req.session.visits, %HasFastProperties(req), %HasFastProperties(res), scratch.length]);
          res.end('ok');
        });
        const server = app.listen(0, '127.0.0.1', async () => {
          const get = (cookie) => new Promise((resolve) => http.get({ port: server.address().port,
            headers: cookie ? { cookie } : {} }, (r) => { r.resume(); r.on('end', () => resolve(r.headers['set-cookie'])); }));
          const cookie = (await get())[0].split(';')[0];
          await get(cookie);
          await get(cookie);
          console.log(JSON.stringify(seen));
          server.close();
        });
        `,
      ],
      { encoding: 'utf8', cwd: new URL('..', import.meta.url) },
    ).trim();
    // The first request makes a new session (express-session's own generate, not the store):
    // only the loads go through the adapter's createSession.
    const [first, ...loaded] = JSON.parse(out) as [number, boolean, boolean, number][];
    assert.equal(first?.[0], 1);
    assert.deepEqual(loaded, [
      [2, false, false, 0],
      [3, false, false, 0],
    ]);
  });

  it('on plain node:http the request keeps its Node prototype and gets the session', async () => {
    const sessions = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    const middleware = sessions.middleware();
    const server = createServer((req, res) => {
      middleware(req, res, async () => {
        await sessions.set(req, 'visits', 1);
        res.end(JSON.stringify({ id: typeof (req as SessionRequest).sessionID }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const reply = await new Client(`http://127.0.0.1:${port}`).get('/');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json(), { id: 'string' });
  });
});
