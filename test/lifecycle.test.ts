/** A session from creation to its end over real HTTP: strict ids, collisions, login and logout, no resurrection, idle and absolute expiry, clock steps and rolling renewal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cookieFor,
  EPOCH,
  HOUR,
  harness,
  idOf,
  MINUTE,
  only,
  readWith,
  session,
} from './helpers/harness.js';
import { expiresOf, fetchReply } from './helpers/http.js';
import { LaxStore } from './helpers/spy-store.js';

describe('strict mode', () => {
  it('a destroyed id replayed gets a different id on the next write', async () => {
    const hx = await harness();
    const { client, cookie, id } = await session(hx);
    await client.get('/logout');
    const replay = await readWith(hx, `sid=${cookie}`);
    assert.deepEqual(replay.json(), { value: null, id: null });
    // the stale cookie is cleared
    assert.equal(only(replay).attributes.get('expires'), EPOCH);
    const write = await fetchReply(`${hx.url}/`, { cookie: `sid=${cookie}` });
    assert.equal(write.body, 'visits=1');
    const issued = idOf(only(write).value);
    assert.notEqual(issued, id);
    assert.equal(await hx.spy.inner.get(id), undefined);
  });

  it('a validly signed, attacker-chosen id never lands in the store', async () => {
    const hx = await harness();
    const attackerId = 'attackerChosenSessionId_0123456789';
    const reply = await fetchReply(`${hx.url}/write/role/user`, {
      cookie: `sid=${cookieFor(attackerId)}`,
    });
    assert.equal(hx.spy.calls.get, 1);
    const issued = idOf(only(reply).value);
    assert.notEqual(issued, attackerId);
    assert.equal(await hx.spy.inner.get(attackerId), undefined);
    for await (const [id] of hx.spy.inner.all()) assert.notEqual(id, attackerId);
    // the victim's later use of that cookie keeps being anonymous
    assert.deepEqual((await readWith(hx, `sid=${cookieFor(attackerId)}`, '/read/role')).json(), {
      value: null,
      id: null,
    });
  });
});

describe('an id collision never merges two sessions', () => {
  it('a create reporting a collision is retried with a fresh id; the existing session is untouched', async () => {
    const hx = await harness();
    const victim = await session(hx);
    hx.spy.reset();
    hx.spy.collisions = 2;
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 200);
    assert.equal(hx.spy.calls.create, 3);
    assert.equal(hx.spy.calls.update, 0, 'never writes into the session that holds the id');
    const issued = idOf(only(reply).value);
    assert.notEqual(issued, victim.id);
    assert.deepEqual({ ...(await hx.spy.inner.get(victim.id))!.data }, { visits: 1 });
  });

  it('after repeated collisions the write fails with SESSION_COLLISION and no cookie', async () => {
    const hx = await harness();
    hx.spy.collisions = 100;
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 500);
    assert.deepEqual(reply.json(), { code: 'SESSION_COLLISION' });
    assert.equal(reply.cookies.length, 0);
  });
});

describe('regenerate after login, and logout', () => {
  it('moves to a new id, destroys the old one, and carries only the kept keys', async () => {
    const hx = await harness();
    const client = hx.client();
    await client.get('/write/a/1');
    await client.get('/write/b/2');
    const oldCookie = client.jar.get('sid')!;
    const oldId = idOf(oldCookie);

    const login = await client.get('/login?keep=a');
    const newId = login.json<{ id: string }>().id;
    assert.notEqual(newId, oldId);
    assert.equal(idOf(only(login).value), newId);
    assert.equal(await hx.spy.inner.get(oldId), undefined);
    assert.deepEqual((await client.get('/read/a')).json(), { value: '1', id: newId });
    assert.deepEqual((await client.get('/read/b')).json(), { value: null, id: newId });
    // replaying the pre-login cookie is anonymous
    assert.deepEqual((await readWith(hx, `sid=${oldCookie}`, '/read/a')).json(), {
      value: null,
      id: null,
    });

    await client.get('/write/b/3');
    const all = await client.get('/login?keep=all');
    const allId = all.json<{ id: string }>().id;
    assert.notEqual(allId, newId);
    assert.equal((await client.get('/read/a')).json<{ value: string }>().value, '1');
    assert.equal((await client.get('/read/b')).json<{ value: string }>().value, '3');

    const none = await client.get('/login');
    assert.notEqual(none.json<{ id: string }>().id, allId);
    assert.equal((await client.get('/read/a')).json<{ value: null }>().value, null);
    assert.equal(await hx.spy.inner.length(), 1);
  });

  it('regenerate for an anonymous visitor creates a session; keep of unknown keys is harmless', async () => {
    const hx = await harness();
    const client = hx.client();
    const login = await client.get('/login?keep=toString,__proto__,missing');
    const id = login.json<{ id: string }>().id;
    assert.equal(idOf(only(login).value), id);
    const record = await hx.spy.inner.get(id);
    assert.deepEqual(Object.keys(record!.data), []);
  });

  it('logout destroys the session server-side even if the client keeps its cookie', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const logout = await fetchReply(`${hx.url}/logout`, { cookie: `sid=${cookie}` });
    const cleared = only(logout);
    assert.equal(cleared.value, '');
    assert.equal(cleared.attributes.get('expires'), EPOCH);
    assert.equal(await hx.spy.inner.get(id), undefined);
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
  });
});

describe('no resurrection', () => {
  for (const op of ['set', 'touch']) {
    it(`a ${op} after a concurrent logout rejects SESSION_DESTROYED and writes nothing`, async () => {
      const hx = await harness();
      const { cookie, id } = await session(hx);
      const slow = fetchReply(`${hx.url}/slow/${op}`, { cookie: `sid=${cookie}` });
      await hx.slow.loaded;
      const logout = await fetchReply(`${hx.url}/logout`, { cookie: `sid=${cookie}` });
      assert.equal(logout.status, 200);
      hx.slow.release();
      const late = await slow;
      assert.equal(late.status, 409);
      assert.deepEqual(late.json(), { code: 'SESSION_DESTROYED' });
      // the late response carries no live cookie (only, at most, a clearing one)
      for (const c of late.cookiesNamed('sid')) assert.equal(c.value, '');
      assert.equal(await hx.spy.inner.get(id), undefined);
      assert.equal(await hx.spy.inner.length(), 0);
      assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
    });
  }
});

describe('expiry enforced server-side (mocked Date)', () => {
  it('idle timeout: alive before maxAge, anonymous after, and a new id on write', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const hx = await harness({ maxAge: 10 * MINUTE, rolling: false });
    const { cookie, id } = await session(hx);
    t.mock.timers.tick(10 * MINUTE - 1000);
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: 1, id });
    t.mock.timers.tick(2000);
    // the browser still holds the cookie (its Expires would be far in the future): no help
    const expired = await readWith(hx, `sid=${cookie}`);
    assert.deepEqual(expired.json(), { value: null, id: null });
    const write = await fetchReply(`${hx.url}/`, { cookie: `sid=${cookie}` });
    assert.equal(write.body, 'visits=1');
    assert.notEqual(idOf(only(write).value), id);
  });

  it('activity renews the idle timeout, but never past the absolute cap', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 10 * MINUTE, absoluteTimeout: 30 * MINUTE });
    const client = hx.client();
    await client.get('/');
    const id = idOf(client.jar.get('sid')!);
    for (let minute = 5; minute < 30; minute += 5) {
      t.mock.timers.tick(5 * MINUTE);
      const reply = await client.get('/');
      assert.match(reply.body, /^visits=\d+$/);
      assert.equal(idOf(client.jar.get('sid')!), id, `alive at ${minute} min`);
      for (const c of reply.cookiesNamed('sid')) {
        assert.ok(expiresOf(c)! <= start + 30 * MINUTE + 1000, 'Expires never beyond the cap');
      }
    }
    t.mock.timers.tick(5 * MINUTE + 1000);
    const cookie = client.jar.get('sid')!;
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
  });

  it('a new manager instance sharing the store enforces its own maxAge on old sessions (CVE-2024-35220 shape)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const lax = new LaxStore();
    const a = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    const { cookie, id } = await session(a);
    t.mock.timers.tick(11 * MINUTE);
    // the store still returns the record; a restarted app must not honour it
    assert.ok(lax.map.has(id));
    const b = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    assert.deepEqual((await readWith(b, `sid=${cookie}`)).json(), { value: null, id: null });
    assert.equal(lax.map.has(id), false, 'the expired record is removed');
    const write = await fetchReply(`${b.url}/`, { cookie: `sid=${cookie}` });
    assert.notEqual(idOf(only(write).value), id);
  });

  it('a new manager with absoluteTimeout refuses an old but active session of the same store', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const lax = new LaxStore();
    const a = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    const { client, id } = await session(a);
    for (let i = 0; i < 8; i++) {
      t.mock.timers.tick(5 * MINUTE);
      await client.get('/');
    }
    assert.equal(idOf(client.jar.get('sid')!), id, 'kept alive 40 min by activity');
    const b = await harness({ maxAge: 10 * MINUTE, absoluteTimeout: 30 * MINUTE }, { inner: lax });
    assert.deepEqual((await readWith(b, `sid=${client.jar.get('sid')}`)).json(), {
      value: null,
      id: null,
    });
  });

  it('a record whose store-side expiry is absurdly far in the future is not honoured', async () => {
    const lax = new LaxStore();
    const id = 'farFutureSessionId_0123456789abcd';
    const now = Date.now();
    await lax.create(id, {
      data: Object.assign(Object.create(null), { user: 'x' }),
      createdAt: now,
      expiresAt: now + 10 * 365 * 24 * HOUR,
    });
    const hx = await harness({ maxAge: HOUR }, { inner: lax });
    assert.deepEqual((await readWith(hx, `sid=${cookieFor(id)}`, '/read/user')).json(), {
      value: null,
      id: null,
    });
  });
});

describe('clock steps (mocked Date)', () => {
  it('+1 h expires idle sessions; −1 h revives neither a destroyed nor an expired session', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 30 * MINUTE, absoluteTimeout: 2 * HOUR });
    const destroyed = await session(hx);
    await destroyed.client.get('/logout');
    const expired = await session(hx);
    const probe = await session(hx);
    t.mock.timers.setTime(start + HOUR);
    assert.deepEqual((await readWith(hx, `sid=${probe.cookie}`)).json(), { value: null, id: null });
    // `expired` was never requested after it expired, so nothing has removed it yet
    t.mock.timers.setTime(start - HOUR);
    for (const { cookie } of [destroyed, expired]) {
      assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
    }
  });

  it('after −1 h, a session is still refused at createdAt + absoluteTimeout', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 20 * MINUTE, absoluteTimeout: 30 * MINUTE });
    const { client, id } = await session(hx);
    t.mock.timers.setTime(start - 30 * 1000);
    await client.get('/');
    for (let minute = 5; minute <= 25; minute += 5) {
      t.mock.timers.setTime(start + minute * MINUTE);
      await client.get('/');
      assert.equal(idOf(client.jar.get('sid')!), id);
    }
    t.mock.timers.setTime(start + 30 * MINUTE + 1000);
    assert.deepEqual((await readWith(hx, `sid=${client.jar.get('sid')}`)).json(), {
      value: null,
      id: null,
    });
  });
});

describe('rolling renewal is throttled by touchAfter (mocked Date)', () => {
  it('a read renews the expiry only once touchAfter has passed', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const hx = await harness({ maxAge: HOUR, touchAfter: 10 * MINUTE });
    const { cookie, id } = await session(hx);
    const created = (await hx.spy.inner.get(id))!.expiresAt;
    hx.spy.reset();
    t.mock.timers.tick(5 * MINUTE);
    const early = await readWith(hx, `sid=${cookie}`);
    assert.equal(early.cookiesNamed('sid').length, 0);
    assert.equal(hx.spy.calls.touch, 0);
    assert.equal((await hx.spy.inner.get(id))!.expiresAt, created);
    t.mock.timers.tick(6 * MINUTE);
    const late = await readWith(hx, `sid=${cookie}`);
    const renewed = only(late);
    assert.equal(hx.spy.calls.touch, 1);
    assert.equal((await hx.spy.inner.get(id))!.expiresAt, Date.now() + HOUR);
    assert.equal(expiresOf(renewed), Math.floor((Date.now() + HOUR) / 1000) * 1000);
    assert.equal(renewed.value, cookie);
  });
});
