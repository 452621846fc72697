/** Session data over real HTTP: only the id travels in the cookie, values are bounded, concurrent key-level writes all land, hostile keys and values are refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cookieFor,
  HOSTILE_KEYS,
  HOSTILE_VALUES,
  HOUR,
  harness,
  idOf,
  only,
  readWith,
  session,
} from './helpers/harness.js';
import { fetchReply } from './helpers/http.js';

describe('cookie size, cookie-only exchange, size cap', () => {
  it('the cookie does not grow with the session data', async () => {
    // 'always', so the write of the big value re-sends the cookie to be compared.
    const hx = await harness({ renewOnWrite: 'always' });
    const client = hx.client();
    const small = only(await client.get('/'));
    const big = only(await client.get('/write-big'));
    assert.equal(big.value, small.value);
    assert.ok(big.raw.length < 200, `${big.raw.length} bytes`);
  });

  it('a session id in a JSON body field is ignored', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    hx.spy.reset();
    for (const body of [{ sid: decodeURIComponent(cookie) }, { sid: id }, { sessionID: id }]) {
      const response = await fetch(`${hx.url}/read-body/visits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.deepEqual(await response.json(), { value: null, id: null });
    }
    assert.equal(hx.spy.calls.get, 0);
  });

  it('a 10 MB value is refused with SESSION_TOO_LARGE by default, the old value kept', async () => {
    const hx = await harness();
    const { client } = await session(hx);
    const reply = await client.get('/write-10mb');
    assert.equal(reply.status, 413);
    assert.deepEqual(reply.json(), { code: 'SESSION_TOO_LARGE' });
    assert.equal((await client.get('/read/visits')).json<{ value: number }>().value, 1);
    assert.equal((await client.get('/read/big')).json<{ value: null }>().value, null);
  });
});

describe('concurrent key-level writes', () => {
  it('50 parallel requests each setting k{i} of one session all land', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetchReply(`${hx.url}/write/k${i}/${i}`, { cookie: `sid=${cookie}` }),
      ),
    );
    for (const reply of replies) assert.equal(reply.status, 200);
    const data = (await hx.spy.inner.get(id))!.data;
    for (let i = 0; i < 50; i++) assert.equal(data[`k${i}`], String(i), `k${i}`);
    assert.equal(data.visits, 1);
    assert.equal(await hx.spy.inner.length(), 1);
  });
});

describe('hostile keys and non-JSON values', () => {
  it('are rejected with a typed error and the old value is kept', async () => {
    const hx = await harness({ maxValueBytes: 1000 });
    const client = hx.client();
    await client.get('/write/victim/old');
    const id = idOf(client.jar.get('sid')!);
    for (const name of Object.keys(HOSTILE_VALUES)) {
      const reply = await client.get(`/hostile-value/${name}`);
      const expected =
        name === 'over-maxValueBytes' ? [413, 'SESSION_TOO_LARGE'] : [400, 'INVALID_SESSION_DATA'];
      assert.equal(reply.status, expected[0], name);
      assert.deepEqual(reply.json(), { code: expected[1] }, name);
      assert.equal((await client.get('/read/victim')).json<{ value: string }>().value, 'old', name);
    }
    for (const name of Object.keys(HOSTILE_KEYS)) {
      const reply = await client.get(`/hostile-key/${name}`);
      assert.equal(reply.status, 400, name);
      assert.deepEqual(reply.json(), { code: 'INVALID_SESSION_DATA' }, name);
    }
    const data = (await hx.spy.inner.get(id))!.data;
    assert.deepEqual(Object.keys(data), ['victim']);
    assert.equal(data.victim, 'old');
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  it('a rejected first write creates no session and sends no cookie', async () => {
    const hx = await harness();
    const client = hx.client();
    for (const name of ['bigint', 'circular', 'deep-100k']) {
      const reply = await client.get(`/hostile-value/${name}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.cookies.length, 0);
    }
    assert.equal(hx.spy.calls.create, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('get of Object.prototype member names returns undefined', async () => {
    const hx = await harness();
    const { client } = await session(hx);
    for (const key of [
      'toString',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      '__proto__',
      'isPrototypeOf',
    ]) {
      assert.deepEqual((await client.get(`/read/${key}`)).json<{ value: null }>().value, null, key);
    }
  });

  it('a __proto__ key stored directly in the store is inert', async () => {
    const hx = await harness();
    const id = 'storedProtoSessionId_0123456789ab';
    const now = Date.now();
    const data = Object.assign(
      Object.create(null),
      JSON.parse('{"__proto__":{"isAdmin":true},"user":"mallory"}'),
    );
    assert.ok(await hx.spy.inner.create(id, { data, createdAt: now, expiresAt: now + HOUR }));
    const probe = await readWith(hx, `sid=${cookieFor(id)}`, '/probe');
    assert.deepEqual(probe.json(), { polluted: false, isAdmin: null, user: 'mallory' });
    const listing = await hx.manager.getAllSessions();
    assert.equal((listing[id] as Record<string, unknown>).isAdmin, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });
});
