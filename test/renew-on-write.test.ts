/**
 * `renewOnWrite`: with `'always'` every write renews the expiry and re-sends the cookie; with
 * `'touchAfter'` (the default) a write renews only when that extends the expiry by `touchAfter`,
 * and the store's expiry and the cookie's Expires stay equal — over real HTTP, MemoryStore.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express from 'express';
import { InvalidOptionError, SessionManager } from '../src/index.js';
import { MemoryStore } from '../src/stores/memory/memory-store.js';
import { Client, expiresOf, listen } from './helpers/http.js';
import { addSessionWriteRoutes } from './helpers/routes.js';

const SECRET = 'renew-on-write test secret, long enough: 0123456789';
const TOUCH_AFTER = 30_000;

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

async function serve(renewOnWrite?: 'always' | 'touchAfter') {
  const store = new MemoryStore();
  const sm = new SessionManager({
    store,
    secret: SECRET,
    maxAge: 60_000,
    touchAfter: TOUCH_AFTER,
    rolling: false,
    ...(renewOnWrite ? { renewOnWrite } : {}),
  });
  const app = express();
  app.use(sm.middleware());
  addSessionWriteRoutes(app, sm as unknown as SessionManager);
  const server = await listen(app);
  closers.push(async () => {
    await server.close();
    await sm.close();
  });
  const client = new Client(server.url);
  const stored = async () => {
    for await (const [, record] of store.all()) return record.expiresAt;
    throw new Error('no session in the store');
  };
  return { client, stored };
}

describe('renewOnWrite', () => {
  it("'always': every write re-sends the cookie with the renewed expiry", async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const { client, stored } = await serve('always');
    await client.get('/');
    t.mock.timers.tick(1000);
    const second = await client.get('/');
    assert.equal(second.body, 'visits=2');
    const [cookie] = second.cookiesNamed('sid');
    assert.ok(cookie, 'the second write sends a cookie');
    assert.equal(Math.floor(expiresOf(cookie)! / 1000), Math.floor((await stored()) / 1000));
  });

  for (const [name, option] of [
    ["'touchAfter'", 'touchAfter'],
    ['the default', undefined],
  ] as const) {
    it(`${name}: writes within touchAfter keep the expiry and send no cookie; a later one renews both`, async (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const { client, stored } = await serve(option);
      const first = await client.get('/');
      const created = expiresOf(first.cookiesNamed('sid')[0]!)!;
      const expiryAtCreate = await stored();
      for (let visit = 2; visit <= 4; visit++) {
        t.mock.timers.tick(TOUCH_AFTER / 4);
        const reply = await client.get('/');
        assert.equal(reply.body, `visits=${visit}`, 'every write lands');
        assert.deepEqual(reply.cookiesNamed('sid'), [], 'no Set-Cookie within touchAfter');
        assert.equal(reply.headers.get('cache-control'), null, 'no no-store without a cookie');
        assert.equal(await stored(), expiryAtCreate, 'the stored expiry stays with the cookie');
      }
      t.mock.timers.tick(TOUCH_AFTER / 4 + 1000);
      const renewed = await client.get('/');
      assert.equal(renewed.body, 'visits=5');
      const [cookie] = renewed.cookiesNamed('sid');
      assert.ok(cookie, 'a write past touchAfter re-sends the cookie');
      assert.ok(expiresOf(cookie)! >= created + TOUCH_AFTER, 'with a later Expires');
      assert.equal(Math.floor(expiresOf(cookie)! / 1000), Math.floor((await stored()) / 1000));
    });
  }

  it('rejects anything else with a typed error naming the option', () => {
    assert.throws(
      () =>
        new SessionManager({
          secret: SECRET,
          renewOnWrite: 'sometimes' as 'always',
        }),
      (error: unknown) =>
        error instanceof InvalidOptionError && /renewOnWrite must be/.test(error.message),
    );
  });
});
