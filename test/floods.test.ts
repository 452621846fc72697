/** Floods of cookie-less or forged requests cost no store work, and are reported as detection events without ids. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SessionEvent } from '../src/index.js';
import { cookieFor, harness, macOf, readWith, session } from './helpers/harness.js';
import { floodAgent, pool, quickGet } from './helpers/http.js';

describe('floods cost nothing', () => {
  it('10,000 cookie-less requests: 0 store entries, 0 store reads, 0 Set-Cookie', async () => {
    const hx = await harness();
    const agent = floodAgent();
    let setCookies = 0;
    let ok = 0;
    await pool(10_000, 50, async () => {
      const reply = await quickGet(`${hx.url}/read/visits`, {}, agent);
      if (reply.status === 200) ok++;
      setCookies += reply.setCookies.length;
    });
    agent.destroy();
    assert.equal(ok, 10_000);
    assert.equal(setCookies, 0);
    assert.deepEqual(hx.spy.calls, { get: 0, create: 0, update: 0, touch: 0, destroy: 0 });
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('1,000 requests with random forged cookies: 0 entries, 0 store reads', async () => {
    const hx = await harness();
    const agent = floodAgent();
    let setCookies = 0;
    await pool(1000, 50, async (i) => {
      const id = randomBytes(24).toString('base64url');
      const fakeMac = randomBytes(32).toString('base64').replace(/=+$/, '');
      const shapes = [
        `s:${id}.${fakeMac}`,
        `s:${id}.${macOf(id, `guess-${i}`)}`,
        `${id}.${fakeMac}`,
        randomBytes(40).toString('base64'),
        `s:${id}`,
      ];
      const value = encodeURIComponent(shapes[i % shapes.length]!);
      const reply = await quickGet(`${hx.url}/read/visits`, { cookie: `sid=${value}` }, agent);
      assert.equal(reply.status, 200);
      setCookies += reply.setCookies.length;
    });
    agent.destroy();
    assert.equal(setCookies, 0);
    assert.equal(hx.spy.calls.get, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });
});

describe('detection events', () => {
  it('counts invalid signatures, unknown sessions and duplicate cookies, without ids', async () => {
    const events: SessionEvent[] = [];
    const hx = await harness({
      onEvent: (event) => {
        events.push(event);
        throw new Error('an observer that throws must not break the request');
      },
    });
    const count = (type: SessionEvent['type']) => events.filter((e) => e.type === type).length;
    const agent = floodAgent();
    await pool(1000, 50, async () => {
      const id = randomBytes(24).toString('base64url');
      const reply = await quickGet(
        `${hx.url}/read/visits`,
        { cookie: `sid=${cookieFor(id, 'not the secret, 0123456789abcdef')}` },
        agent,
      );
      assert.equal(reply.status, 200);
    });
    agent.destroy();
    assert.equal(count('invalid-signature'), 1000);
    assert.equal(events.length, 1000);

    // A correctly signed id the store never issued: strict mode refuses it, and says so.
    const unknown = randomBytes(24).toString('base64url');
    assert.equal((await readWith(hx, `sid=${cookieFor(unknown)}`)).status, 200);
    assert.equal(count('unknown-session'), 1);

    // Cookie tossing: two cookies of our name; the live one still wins.
    const { cookie } = await session(hx);
    const reply = await readWith(hx, `sid=junk; sid=${cookie}`);
    assert.equal(reply.json<{ value: number }>().value, 1);
    assert.equal(count('duplicate-cookie'), 1);
    assert.equal(count('invalid-signature'), 1001);
    for (const event of events) assert.deepEqual(Object.keys(event), ['type']);
  });
});
