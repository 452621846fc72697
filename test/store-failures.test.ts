/** A failing store fails closed: requests get 503, never another session, and no error carries an id or a secret. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SessionManager } from '../src/index.js';
import { harness, readWith, SECRET, SECRETS, session, WEAK_SECRET } from './helpers/harness.js';
import { fetchReply } from './helpers/http.js';

describe('a failing store fails closed', () => {
  const down = () => new Error('connect ECONNREFUSED 127.0.0.1:6379');

  it('get rejects → 503, never another session; cookie-less requests still work', async () => {
    const hx = await harness();
    const { cookie } = await session(hx);
    hx.spy.failures.get = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookiesNamed('sid').length, 0, 'the cookie is not cleared on an outage');
    const anonymous = await fetchReply(`${hx.url}/read/visits`);
    assert.equal(anonymous.status, 200);
    hx.spy.reset();
    assert.equal((await readWith(hx, `sid=${cookie}`)).json<{ value: number }>().value, 1);
  });

  it('update rejects → set rejects STORE_UNAVAILABLE and the old value is kept', async () => {
    const hx = await harness();
    const { client, id } = await session(hx);
    hx.spy.failures.update = down();
    const reply = await client.get('/write/visits/99');
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookies.length, 0);
    assert.equal((await hx.spy.inner.get(id))!.data.visits, 1);
  });

  it('create rejects → no Set-Cookie for the session that does not exist (persist, then send)', async () => {
    const hx = await harness();
    hx.spy.failures.create = down();
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookies.length, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('touch rejects during a rolling renewal → the read goes on with the session as loaded, no renewed cookie', async () => {
    const hx = await harness({ touchAfter: 0 });
    const { cookie } = await session(hx);
    await sleep(5);
    hx.spy.failures.touch = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ value: number }>().value, 1);
    assert.equal(reply.cookiesNamed('sid').length, 0);
  });

  it('destroy rejects → logout reports the failure and the session is not pretended gone', async () => {
    const hx = await harness();
    const { client, id } = await session(hx);
    hx.spy.failures.destroy = down();
    const reply = await client.get('/logout');
    assert.equal(reply.status, 503);
    assert.ok(await hx.spy.inner.get(id));
  });

  it('the error an app shows carries no detail of the store failure (address, port, cause)', async () => {
    // An app that answers with error messages, as many do: the message is ours, not the store's.
    const hx = await harness({}, { exposeMessages: true });
    const { cookie } = await session(hx);
    hx.spy.failures.get = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.equal(reply.status, 503);
    const body = reply.json<{ code: string; message: string }>();
    assert.equal(body.code, 'STORE_UNAVAILABLE');
    assert.match(body.message, /^session-store-js: /);
    assert.doesNotMatch(body.message, /ECONNREFUSED|127\.0\.0\.1|6379/);
  });
});

describe('errors never carry a session id or a secret', () => {
  it('no error from failing stores, refused writes, logout races or bad options names one', async () => {
    const hx = await harness({}, { exposeMessages: true });
    const errors: unknown[] = [];
    // Store failures whose own messages do carry the id.
    const { client, cookie, id } = await session(hx);
    for (const method of ['get', 'update', 'touch', 'destroy'] as const) {
      hx.spy.failures[method] = new Error(`backend said no for ${id}`);
    }
    const replies = [
      await readWith(hx, `sid=${cookie}`),
      await client.get('/write/k/v'),
      await client.get('/logout'),
    ];
    hx.spy.reset();
    hx.spy.failures.create = new Error(`create failed for ${id}`);
    replies.push(await fetchReply(`${hx.url}/write/k/v`));
    hx.spy.reset();
    // Refused data, a write after a concurrent logout, bad options.
    replies.push(await client.get('/hostile-value/circular'));
    replies.push(await client.get('/hostile-key/proto'));
    const slow = fetchReply(`${hx.url}/slow/set`, { cookie: `sid=${cookie}` });
    await hx.slow.loaded;
    await client.get('/logout');
    hx.slow.release();
    replies.push(await slow);
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      for (const secret of [WEAK_SECRET, [SECRET, WEAK_SECRET]]) {
        assert.throws(
          () => new SessionManager({ secret: secret as string }),
          (error) => {
            errors.push(error);
            return true;
          },
        );
      }
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
    errors.push(...hx.errors);
    // 4 store failures, 2 refused values/keys, 1 write after logout, 2 refused secrets at least.
    assert.ok(errors.length >= 9, `collected ${errors.length} errors`);
    const ids = [...hx.spy.ids];
    assert.ok(ids.includes(id));
    for (const error of errors) {
      assert.ok(error instanceof Error);
      for (const secret of SECRETS) assert.ok(!error.message.includes(secret), error.message);
      for (const seen of ids) assert.ok(!error.message.includes(seen), error.message);
    }
    for (const reply of replies) {
      for (const seen of ids) assert.ok(!reply.body.includes(seen), reply.body);
    }
  });
});
