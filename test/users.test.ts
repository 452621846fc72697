/**
 * Per-user sessions, the parts that are the same on every store: argument checks, a store
 * without the user index refused with a reason, the binding hidden from the application, and a
 * binding kept across a plain `regenerate`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { NotSupportedError, SessionManager } from '../src/index.js';
import { MemoryStore } from '../src/stores/memory/memory-store.js';
import type { SessionStore } from '../src/types.js';
import { Client, type Listening, listen } from './helpers/http.js';
import { h } from './helpers/routes.js';
import { jsonErrors } from './stores/user-sessions-http.js';

const SECRET = 'user-sessions test secret, long enough for production';

/** A store with only the required tier: MemoryStore's methods, none of the user index. */
function plainStore(): SessionStore {
  const inner = new MemoryStore();
  return {
    get: (id) => inner.get(id),
    create: (id, r) => inner.create(id, r),
    update: (id, c, e) => inner.update(id, c, e),
    touch: (id, e) => inner.touch(id, e),
    destroy: (id) => inner.destroy(id),
    all: () => inner.all(),
    length: () => inner.length(),
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
}

describe('per-user sessions: checks and hiding', () => {
  let server: Listening;
  let sm: SessionManager;
  let plain: SessionManager;

  before(async () => {
    sm = new SessionManager({ store: new MemoryStore(), secret: SECRET });
    plain = new SessionManager({ store: plainStore(), secret: SECRET, cookieName: 'p' });
    const app = express();
    app.use(sm.middleware());
    app.use(plain.middleware());
    app.post(
      '/login',
      h(async (req, res) => {
        const body = JSON.parse(String(req.headers['x-options'] ?? '{}'));
        await sm.regenerate(req, body);
        await sm.set(req, 'x', 1);
        res.json({ user: sm.userId(req) ?? null });
      }),
    );
    app.post(
      '/plain-login',
      h(async (req, res) => {
        await plain.regenerate(req, { user: 'u' });
        res.end();
      }),
    );
    app.post(
      '/regen',
      h(async (req, res) => {
        await sm.regenerate(req, { keep: true });
        res.json({ user: sm.userId(req) ?? null, x: (await sm.get(req, 'x')) ?? null });
      }),
    );
    app.get(
      '/peek',
      h(async (req, res) => {
        res.json({
          binding: (await sm.get(req, '__ssjs_user' as never)) ?? null,
          user: sm.userId(req) ?? null,
        });
      }),
    );
    app.post(
      '/set-reserved',
      h(async (req, res) => {
        await sm.set(req, '__ssjs_user' as never, 'forged' as never);
        res.end();
      }),
    );
    app.post(
      '/revoke-others-after-logout',
      h(async (req, res) => {
        const user = sm.userId(req)!;
        const loggedOut = sm.destroy(req);
        const count = await sm.destroyUserSessions(user, { except: req });
        await loggedOut;
        res.json({ count });
      }),
    );
    app.post(
      '/revoke-others-when-gone',
      h(async (req, res) => {
        await sm.store.destroy(sm.sessionId(req)!);
        res.json({ count: await sm.destroyUserSessions(sm.userId(req)!, { except: req }) });
      }),
    );
    app.get(
      '/list-as',
      h(async (req, res) => {
        res.json(await sm.listUserSessions(String(req.query.user), { current: req }));
      }),
    );
    app.use(jsonErrors);
    server = await listen(app);
  });

  after(async () => {
    await server.close();
    await sm.close();
    await plain.close();
  });

  const login = (client: Client, options: unknown) =>
    client.request('/login', { method: 'POST', headers: { 'x-options': JSON.stringify(options) } });

  it('refuses bad user ids and meta with typed errors, and creates nothing', async () => {
    const client = new Client(server.url);
    for (const user of ['', 'u'.repeat(257), 42]) {
      const reply = await login(client, { user });
      assert.equal(reply.status, 400);
      assert.equal(reply.json<{ code: string }>().code, 'INVALID_SESSION_DATA');
    }
    const big = await login(client, { user: 'u', meta: { ua: 'x'.repeat(3000) } });
    assert.equal(big.status, 413);
    assert.equal(big.json<{ code: string }>().code, 'SESSION_TOO_LARGE');
    const array = await login(client, { user: 'u', meta: ['a'] });
    assert.equal(array.json<{ code: string }>().code, 'INVALID_SESSION_DATA');
    const orphan = await login(client, { meta: { ua: 'x' } });
    assert.equal(orphan.json<{ code: string }>().code, 'INVALID_OPTION');
    assert.equal(client.jar.size, 0);
    assert.deepEqual(await sm.listUserSessions('u'), []);
    await assert.rejects(sm.listUserSessions(''), { code: 'INVALID_SESSION_DATA' });
  });

  it('hides the binding from get, set and getAllSessions', async () => {
    const client = new Client(server.url);
    await login(client, { user: 'hidden', meta: { ua: 't' } });
    assert.deepEqual((await client.get('/peek')).json(), { binding: null, user: 'hidden' });
    const forged = await client.request('/set-reserved', { method: 'POST' });
    assert.equal(forged.status, 400);
    for (const data of Object.values(await sm.getAllSessions())) {
      assert.ok(!Object.hasOwn(data, '__ssjs_user'));
    }
  });

  it('a plain regenerate keeps the user, under a new id', async () => {
    const client = new Client(server.url);
    await login(client, { user: 'kept', meta: { ua: 'k' } });
    const before = client.jar.get('sid');
    assert.deepEqual((await client.request('/regen', { method: 'POST' })).json(), {
      user: 'kept',
      x: 1,
    });
    assert.notEqual(client.jar.get('sid'), before);
    const list = await sm.listUserSessions('kept');
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.meta, { ua: 'k' });
    const unbound = await login(client, { user: null });
    assert.deepEqual(unbound.json(), { user: null });
    assert.deepEqual(await sm.listUserSessions('kept'), []);
  });

  it('a kept session that is gone by then is not kept, and nothing is brought back', async () => {
    for (const route of ['/revoke-others-after-logout', '/revoke-others-when-gone']) {
      const user = `gone${route.length}`;
      const current = new Client(server.url);
      const other = new Client(server.url);
      await login(current, { user });
      await login(other, { user });
      const reply = await current.request(route, { method: 'POST' });
      assert.deepEqual(reply.json(), { count: 1 }, route);
      assert.deepEqual(await sm.listUserSessions(user), [], route);
      assert.deepEqual((await other.get('/peek')).json(), { binding: null, user: null });
    }
  });

  it('marks no session current for a request of another user or of none', async () => {
    const alice = new Client(server.url);
    await login(alice, { user: 'cur-a' });
    await login(new Client(server.url), { user: 'cur-b' });
    const seen = (await alice.get('/list-as?user=cur-b')).json<{ current: boolean }[]>();
    assert.deepEqual(
      seen.map((s) => s.current),
      [false],
    );
    const anonymous = (await new Client(server.url).get('/list-as?user=cur-a')).json<
      { current: boolean }[]
    >();
    assert.deepEqual(
      anonymous.map((s) => s.current),
      [false],
    );
  });

  it('refuses and destroys a session whose binding is malformed', async () => {
    const client = new Client(server.url);
    await login(client, { user: 'forged' });
    for (const bad of ['admin', null, { id: 7, epoch: 0 }, { id: 'forged', epoch: 'x' }]) {
      const id = /^s:([^.]*)\./.exec(decodeURIComponent(client.jar.get('sid')!))![1]!;
      await sm.store.update(id, { set: { __ssjs_user: bad } }, Date.now() + 60_000);
      assert.deepEqual((await client.get('/peek')).json(), { binding: null, user: null });
      assert.equal(await sm.store.get(id), undefined, 'destroyed');
      await login(client, { user: 'forged' });
    }
  });

  it('refuses a bound session found in a store without the user index', async () => {
    const store = plainStore();
    const other = new SessionManager({ store, secret: SECRET });
    const app = express();
    app.use(other.middleware());
    app.get(
      '/',
      h(async (req, res) => {
        res.json({ user: other.userId(req) ?? null, id: req.sessionID ?? null });
      }),
    );
    const running = await listen(app);
    try {
      const { generateSessionId } = await import('../src/id.js');
      const { Signer } = await import('../src/signer.js');
      const id = generateSessionId();
      const now = Date.now();
      const data = Object.assign(Object.create(null), {
        __ssjs_user: { id: 'someone', epoch: 0 },
      });
      await store.create(id, { data, createdAt: now, expiresAt: now + 60_000 });
      const cookie = `sid=${encodeURIComponent(new Signer([SECRET]).sign(id))}`;
      const reply = await new Client(running.url).get('/', { cookie });
      assert.deepEqual(reply.json(), { user: null, id: null });
      assert.equal(await store.get(id), undefined);
    } finally {
      await running.close();
      await other.close();
    }
  });

  it('a store without the user index is refused, saying which capability is missing', async () => {
    const reply = await new Client(server.url).request('/plain-login', { method: 'POST' });
    assert.equal(reply.status, 501);
    assert.match(reply.json<{ message: string }>().message, /capabilities\.userIndex/);
    await assert.rejects(plain.listUserSessions('u'), NotSupportedError);
    await assert.rejects(plain.destroyUserSessions('u'), { code: 'NOT_SUPPORTED' });
    const flagged = new SessionManager({
      store: Object.assign(new MemoryStore(), {
        capabilities: {
          atomicCreate: 'process',
          keyLevelUpdate: 'process',
          noResurrection: 'process',
          streamingAll: false,
          userIndex: false,
        },
      }) as SessionStore,
      secret: SECRET,
    });
    await assert.rejects(flagged.listUserSessions('u'), NotSupportedError);
    await flagged.close();
  });

  it('validates maxSessionsPerUser and whenUserFull at construction', () => {
    for (const maxSessionsPerUser of [0, 1.5, -1, '3']) {
      assert.throws(
        () => new SessionManager({ secret: SECRET, maxSessionsPerUser } as never),
        /maxSessionsPerUser must be an integer from 1 to \d+, got /,
      );
    }
    assert.throws(
      () => new SessionManager({ secret: SECRET, whenUserFull: 'drop' } as never),
      /whenUserFull must be 'evict-oldest' or 'reject', got "drop"/,
    );
  });
});
