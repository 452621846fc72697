/**
 * Calls the manager refuses or resolves as "no session": `regenerate` with a `keep` that is not
 * true, false or a list of keys, `regenerate` after the response went out, and a rolling
 * renewal the store answers with "gone" (a logout elsewhere between the read and the renewal).
 * Also `cookie.secure: 'auto'` outside Express, where it reads the socket: Secure over TLS
 * only. Over real HTTP.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore, SessionManager } from '../src/index.js';
import { SECRET } from './helpers/harness.js';
import { Client, listen } from './helpers/http.js';
import { h } from './helpers/routes.js';
import { afterFile, serveManager } from './helpers/serve.js';
import { SpyStore } from './helpers/spy-store.js';
import { listenTls, selfSigned } from './helpers/tls.js';

describe('regenerate refuses', () => {
  it('a keep that is not true, false or an array of keys, naming keep; the session stays', async () => {
    const manager = new SessionManager({ secret: SECRET });
    const url = await serveManager(manager, (app) => {
      app.get(
        '/regenerate',
        h(async (req, res) => {
          res.json({ id: await manager.regenerate(req, { keep: 'user' as never }) });
        }),
      );
    });
    const browser = new Client(url);
    const { id } = (await browser.get('/write/user/ada')).json<{ id: string }>();
    const refused = await browser.get('/regenerate');
    assert.equal(refused.status, 500);
    const body = refused.json<{ code: string; message: string }>();
    assert.equal(body.code, 'INVALID_OPTION');
    assert.match(body.message, /keep must be true, false or an array of keys, got "user"$/);
    assert.equal(refused.cookies.length, 0);
    assert.equal((await browser.get('/write/more/1')).json<{ id: string }>().id, id);
  });

  it('after the response headers went out: HEADERS_SENT, and the session keeps its id', async () => {
    const manager = new SessionManager({ secret: SECRET });
    let caught: unknown;
    const url = await serveManager(manager, (app) => {
      app.get(
        '/late-regenerate',
        h(async (req, res) => {
          await manager.get(req, 'user');
          res.send('sent');
          try {
            await manager.regenerate(req);
          } catch (error) {
            caught = error;
          }
        }),
      );
    });
    const browser = new Client(url);
    const { id } = (await browser.get('/write/user/ada')).json<{ id: string }>();
    const reply = await browser.get('/late-regenerate');
    assert.equal(reply.body, 'sent');
    for (let i = 0; i < 50 && caught === undefined; i++) await sleep(10);
    assert.equal((caught as { code?: string } | undefined)?.code, 'HEADERS_SENT');
    assert.deepEqual(Object.keys((await manager.store.get(id))?.data ?? {}), ['user']);
  });
});

describe('a rolling renewal the store answers with "gone"', () => {
  it('the request sees no session; the next write starts a new one', async () => {
    const spy = new (class extends SpyStore {
      /** A logout by another process lands between this request's read and its renewal. */
      override async touch(id: string, expiresAt: number) {
        await this.inner.destroy(id);
        return super.touch(id, expiresAt);
      }
    })();
    const manager = new SessionManager({
      secret: SECRET,
      store: spy,
      rolling: true,
      touchAfter: 0,
    });
    const url = await serveManager(manager, (app) => {
      app.get(
        '/read',
        h(async (req, res) => {
          res.json({ user: (await manager.get(req, 'user')) ?? null, id: req.sessionID ?? null });
        }),
      );
    });
    const browser = new Client(url);
    const { id } = (await browser.get('/write/user/ada')).json<{ id: string }>();
    const read = await browser.get('/read');
    assert.deepEqual(read.json(), { user: null, id: null });
    assert.ok(spy.calls.touch >= 1);
    const again = (await browser.get('/write/user/bob')).json<{ id: string }>();
    assert.notEqual(again.id, id);
  });
});

describe("cookie.secure: 'auto' outside Express reads the socket", () => {
  function bare(manager: SessionManager): http.RequestListener {
    const middleware = manager.middleware();
    return (req, res) => {
      middleware(req as never, res as never, () => {
        manager
          .set(req as never, 'user', 'ada')
          .then(() => res.end('ok'))
          .catch(() => {
            res.statusCode = 500;
            res.end();
          });
      });
    };
  }

  it('plain HTTP: the cookie is not Secure', async () => {
    const manager = new SessionManager({ secret: SECRET, store: new MemoryStore() });
    const server = await listen(bare(manager));
    afterFile(async () => {
      await server.close();
      await manager.close();
    });
    const reply = await new Client(server.url).get('/');
    assert.equal(reply.cookies.length, 1);
    assert.equal(reply.cookies[0]!.attributes.has('secure'), false);
  });

  it('TLS: the cookie is Secure', {
    skip: selfSigned() ? undefined : 'openssl is not installed',
  }, async () => {
    const manager = new SessionManager({ secret: SECRET, store: new MemoryStore() });
    const server = await listenTls(bare(manager));
    afterFile(async () => {
      await server.close();
      await manager.close();
    });
    const lines = await server.get('/');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /; Secure/);
  });
});
