/**
 * `regenerate` on a store without the optional `move` (the manager moves in steps: read the old
 * session, create or fill the new one, re-read the old one, destroy it), with and without a
 * per-user index: what a write or a logout landing between the copy and the re-read does, and
 * how an id collision is retried. Over real HTTP on a real MemoryStore whose `move` is hidden; a
 * test can run a request's worth of store calls exactly between the two reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore, SessionManager, type SessionStore } from '../src/index.js';
import { SECRET } from './helpers/harness.js';
import { Client } from './helpers/http.js';
import { h } from './helpers/routes.js';
import { serveManager } from './helpers/serve.js';

/**
 * A real MemoryStore without `move`. `between(oldId)` runs once, after the first read of a
 * session being moved and before the re-read; `collisions` makes that many creates report an
 * existing id first.
 */
function stepStore(users: boolean) {
  const inner = new MemoryStore();
  const hooks: { between?: (oldId: string) => Promise<void>; collisions: number } = {
    collisions: 0,
  };
  const reads = new Map<string, number>();
  const methods = ['update', 'touch', 'destroy', 'all', 'length', 'clear', 'close'];
  if (users)
    methods.push('createForUser', 'listUser', 'destroyUser', 'userEpoch', 'raiseUserEpoch');
  const store = Object.fromEntries(
    methods.map((name) => {
      const method = (inner as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
      return [name, (...args: unknown[]) => method.apply(inner, args)];
    }),
  ) as unknown as SessionStore;
  store.get = async (id) => {
    const n = (reads.get(id) ?? 0) + 1;
    reads.set(id, n);
    const between = hooks.between;
    if (n === 2 && between) {
      hooks.between = undefined;
      await between(id);
    }
    return inner.get(id);
  };
  store.create = async (id, record) => {
    if (hooks.collisions > 0) {
      hooks.collisions--;
      return false;
    }
    return inner.create(id, record);
  };
  return {
    store,
    inner,
    hooks,
    /** Starts a fresh count of reads, so the next move's second read is the re-read. */
    arm(between: (oldId: string) => Promise<void>) {
      reads.clear();
      hooks.between = between;
    },
  };
}

function serve(store: SessionStore) {
  const sm = new SessionManager({ secret: SECRET, store });
  return serveManager(sm, (app) => {
    app.get(
      '/regenerate',
      h(async (req, res) => {
        const keep = req.query.keep === 'all';
        const user = typeof req.query.user === 'string' ? req.query.user : undefined;
        res.json({ id: await sm.regenerate(req, { keep, user }) });
      }),
    );
    app.get(
      '/read',
      h(async (req, res) => {
        const read = async (key: string) => [key, (await sm.get(req, key)) ?? null];
        res.json(Object.fromEntries(await Promise.all(['user', 'cart'].map(read))));
      }),
    );
  });
}

for (const users of [false, true]) {
  const kind = users ? 'with a user index (regenerate({ user }))' : 'without a user index';
  const query = users ? '&user=alice' : '';

  describe(`regenerate in steps, ${kind}`, () => {
    async function loggedIn() {
      const s = stepStore(users);
      const url = await serve(s.store);
      const browser = new Client(url);
      assert.equal((await browser.get('/write/user/alice')).status, 200);
      await browser.get('/write/cart/1');
      const oldId = (await browser.get('/write/cart/2')).json<{ id: string }>().id;
      return { ...s, browser, oldId };
    }

    it('keep: all carries every key to the new id and ends the old one', async () => {
      const s = await loggedIn();
      const reply = await s.browser.get(`/regenerate?keep=all${query}`);
      assert.equal(reply.status, 200, reply.body);
      const { id } = reply.json<{ id: string }>();
      assert.notEqual(id, s.oldId);
      assert.deepEqual((await s.browser.get('/read')).json(), { user: 'alice', cart: '2' });
      assert.equal(await s.inner.get(s.oldId), undefined);
    });

    it('a write that lands between the copy and the re-read is carried over', async () => {
      const s = await loggedIn();
      s.arm(async (oldId) => {
        await s.inner.update(oldId, { set: { cart: '3' }, unset: ['user'] }, Date.now() + 60_000);
      });
      const reply = await s.browser.get(`/regenerate?keep=all${query}`);
      assert.equal(reply.status, 200, reply.body);
      assert.deepEqual((await s.browser.get('/read')).json(), { user: null, cart: '3' });
    });

    it('a logout that lands between the copy and the re-read wins: no session afterwards', async () => {
      const s = await loggedIn();
      s.arm(async (oldId) => {
        await s.inner.destroy(oldId);
      });
      const reply = await s.browser.get(`/regenerate?keep=all${query}`);
      assert.equal(reply.status, 409, reply.body);
      assert.equal(reply.json<{ code: string }>().code, 'SESSION_DESTROYED');
      assert.deepEqual((await s.browser.get('/read')).json(), { user: null, cart: null });
      assert.equal(await s.inner.length(), 0);
    });
  });
}

describe('regenerate when the new id is taken', () => {
  it('retries with another id, and reports SESSION_COLLISION when every try collides', async () => {
    const s = stepStore(false);
    const url = await serve(s.store);
    const browser = new Client(url);
    await browser.get('/write/user/alice');
    s.hooks.collisions = 1;
    const retried = await browser.get('/regenerate?keep=all');
    assert.equal(retried.status, 200, retried.body);
    assert.deepEqual((await browser.get('/read')).json(), { user: 'alice', cart: null });
    s.hooks.collisions = 1_000;
    const refused = await browser.get('/regenerate?keep=all');
    assert.equal(refused.status, 500);
    assert.equal(refused.json<{ code: string }>().code, 'SESSION_COLLISION');
    s.hooks.collisions = 0;
    assert.deepEqual((await browser.get('/read')).json(), { user: 'alice', cart: null });
  });
});
