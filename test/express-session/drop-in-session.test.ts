/**
 * The drop-in's `req.session` and its methods over real HTTP, each scenario run on the real
 * express-session and on the drop-in over MemoryStore, FileStore and RedisStore, asserting
 * express-session's documented behaviour on all of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Request } from 'express';
import { Client, expiresOf, listen } from '../helpers/http.js';
import { makeApp, sess } from './app.js';
import { IMPLS, useImpl } from './impls.js';

for (const impl of IMPLS) {
  describe(impl.label, { skip: impl.skip }, () => {
    const h = useImpl(impl);
    const withClient = h.withClient;

    describe('the README views counter', () => {
      it('counts per visitor, in an s:-signed connect.sid cookie', async () => {
        await withClient({}, async (client) => {
          assert.equal((await client.get('/')).body, 'views=1');
          assert.equal((await client.get('/')).body, 'views=2');
          assert.match(client.jar.get('connect.sid')!, /^s%3A[\w-]{32}\.[\w%]{43,}$/);
          assert.equal((await new Client(client.base).get('/')).body, 'views=1');
        });
      });
    });

    describe('req.session.id and req.sessionID', () => {
      it('are the id signed into the cookie', async () => {
        await withClient({}, async (client) => {
          const { id } = (await client.get('/set/a/1')).json<{ id: string }>();
          assert.ok(decodeURIComponent(client.jar.get('connect.sid')!).startsWith(`s:${id}.`));
        });
      });
    });

    describe('req.session.regenerate()', () => {
      it('moves the visitor to a new id and empties the session', async () => {
        await withClient({}, async (client) => {
          await client.get('/set/a/1');
          const { old, id } = (await client.get('/regenerate')).json<{ old: string; id: string }>();
          assert.notEqual(old, id);
          const data = (await client.get('/data')).json<{ id: string; data: object }>();
          assert.equal(data.id, id);
          assert.deepEqual(data.data, { user: 'alice' });
        });
      });
    });

    describe('req.session.destroy()', () => {
      it('ends the session: the same cookie then gets a new, empty one', async () => {
        await withClient({}, async (client) => {
          await client.get('/set/a/1');
          const cookie = client.jar.get('connect.sid')!;
          await client.get('/destroy');
          const again = await client.get('/data', { cookie: `connect.sid=${cookie}` });
          assert.deepEqual(again.json<{ data: object }>().data, {});
        });
      });
    });

    describe('req.session.reload()', () => {
      it('re-reads the stored session', async () => {
        await withClient({}, async (client) => {
          await client.get('/set/a/1');
          assert.deepEqual((await client.get('/reload')).json<{ data: object }>().data, { a: '1' });
        });
      });
    });

    describe('req.session.save()', () => {
      it('stores the session before the callback; the response still sends the cookie', async () => {
        await withClient({}, async (client) => {
          const reply = await client.get('/save');
          assert.equal(reply.cookiesNamed('connect.sid').length, 1);
          assert.deepEqual((await client.get('/data')).json<{ data: object }>().data, {
            saved: 'yes',
          });
        });
      });
    });

    describe('req.session.touch() and req.session.cookie', () => {
      it('cookie.maxAge counts down; touch() resets it to originalMaxAge', async () => {
        const app = makeApp(h.session, { store: h.store, cookie: { maxAge: 60_000 } });
        app.get('/countdown', (req: Request, res) => {
          const c = sess(req).cookie as { maxAge: number; originalMaxAge: number };
          c.maxAge = 1_000;
          const lowered = c.maxAge;
          sess(req).touch();
          res.json({ lowered, reset: c.maxAge, original: c.originalMaxAge });
        });
        const server = await listen(app);
        try {
          const client = new Client(server.url);
          await client.get('/set/a/1');
          const r = (await client.get('/countdown')).json<Record<string, number>>();
          assert.ok(r.lowered! <= 1_000 && r.lowered! > 0);
          assert.ok(
            r.original! > 900 && r.original! <= 1_000,
            'setting maxAge sets originalMaxAge',
          );
          assert.ok(r.reset! <= 1_000);
        } finally {
          await server.close();
        }
      });

      it('cookie.expires is a Date when maxAge is set, and the Set-Cookie Expires matches', async () => {
        await withClient({ cookie: { maxAge: 60_000 } }, async (client) => {
          const reply = await client.get('/set/a/1');
          const expires = expiresOf(reply.cookiesNamed('connect.sid')[0]!)!;
          assert.ok(Math.abs(expires - (Date.now() + 60_000)) < 5_000);
          const c = (await client.get('/cookie')).json<{
            expires: string;
            originalMaxAge: number;
          }>();
          assert.ok(c.originalMaxAge > 59_900 && c.originalMaxAge <= 60_000, 'originalMaxAge kept');
          assert.ok(Math.abs(Date.parse(c.expires) - expires) < 5_000);
        });
      });

      it('an expired session (5 ms maxAge) is not loaded again', async () => {
        await withClient({ cookie: { maxAge: 5 } }, async (client) => {
          const first = await client.get('/');
          const cookie = first.cookiesNamed('connect.sid')[0]!.value;
          await sleep(30);
          assert.equal(
            (await client.get('/', { cookie: `connect.sid=${cookie}` })).body,
            'views=1',
          );
        });
      });
    });

    describe('the response', () => {
      it('completes only after the store has the session (its last byte is held)', async () => {
        await withClient({}, async (client) => {
          const { id } = (await client.get('/set/k/v')).json<{ id: string }>();
          // The next request, sent the moment the first completed, sees the write.
          const seen = (await client.get('/data')).json<{ id: string; data: object }>();
          assert.equal(seen.id, id);
          assert.deepEqual(seen.data, { k: 'v' });
        });
      });
    });
  });
}
