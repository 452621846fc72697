/**
 * What the manager reports and to whom: an `onEvent` observer that throws never breaks a request
 * (a failed renewal, a user's oldest session evicted); without an observer a failed renewal is
 * one process warning per manager, not one per request; a store method that throws
 * synchronously fails like one that rejects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MemoryStore,
  type SessionEvent,
  SessionManager,
  type SessionManagerOptions,
  type SessionStore,
} from '../src/index.js';
import { SECRET } from './helpers/harness.js';
import { Client } from './helpers/http.js';
import { h } from './helpers/routes.js';
import { afterFile, serveManager } from './helpers/serve.js';
import { SpyStore } from './helpers/spy-store.js';

function serve(options: Partial<SessionManagerOptions> & { store: SessionStore }) {
  const sm = new SessionManager({ secret: SECRET, ...options });
  return serveManager(sm, (app) => {
    app.get(
      '/read/:key',
      h(async (req, res) => {
        res.json({ value: (await sm.get(req, req.params.key as string)) ?? null });
      }),
    );
    app.get(
      '/login/:user',
      h(async (req, res) => {
        res.json({ id: await sm.regenerate(req, { user: req.params.user as string }) });
      }),
    );
  });
}

/** A SpyStore whose touch fails once `failing` is set (the store is full, say). */
function failingTouches() {
  const spy = new SpyStore();
  return {
    spy,
    fail() {
      spy.failures.touch = Object.assign(new Error('OOM command not allowed'), { code: 'OOM' });
    },
  };
}

describe('an observer that throws never breaks a request', () => {
  it('on renewal-failed: the read goes on with the session as loaded', async () => {
    const { spy, fail } = failingTouches();
    const seen: SessionEvent[] = [];
    const url = await serve({
      store: spy,
      rolling: true,
      touchAfter: 0,
      onEvent(event) {
        seen.push(event);
        throw new Error('the observer is broken');
      },
    });
    const browser = new Client(url);
    await browser.get('/write/user/ada');
    fail();
    const read = await browser.get('/read/user');
    assert.equal(read.status, 200, read.body);
    assert.deepEqual(read.json(), { value: 'ada' });
    assert.deepEqual(
      seen.filter((e) => e.type === 'renewal-failed'),
      [{ type: 'renewal-failed', code: 'STORE_UNAVAILABLE' }],
    );
  });

  it("on user-session-evicted: the login that evicted the user's oldest session succeeds", async () => {
    const seen: SessionEvent[] = [];
    const url = await serve({
      store: new MemoryStore(),
      maxSessionsPerUser: 1,
      onEvent(event) {
        seen.push(event);
        throw new Error('the observer is broken');
      },
    });
    const first = new Client(url);
    assert.equal((await first.get('/login/ada')).status, 200);
    await first.get('/write/device/laptop');
    const second = new Client(url);
    const login = await second.get('/login/ada');
    assert.equal(login.status, 200, login.body);
    assert.deepEqual(
      seen.filter((e) => e.type === 'user-session-evicted'),
      [{ type: 'user-session-evicted', count: 1 }],
    );
    assert.deepEqual((await first.get('/read/device')).json(), { value: null });
  });
});

describe('without an observer, failed renewals warn once per manager', () => {
  it('two failed renewals, one SESSION_STORE_RENEWAL_FAILED warning; both reads succeed', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'SESSION_STORE_RENEWAL_FAILED') warnings.push(warning);
    };
    process.on('warning', onWarning);
    afterFile(async () => {
      process.off('warning', onWarning);
    });
    const { spy, fail } = failingTouches();
    const url = await serve({ store: spy, rolling: true, touchAfter: 0 });
    const browser = new Client(url);
    await browser.get('/write/user/ada');
    fail();
    for (let i = 0; i < 2; i++) {
      const read = await browser.get('/read/user');
      assert.equal(read.status, 200, read.body);
      assert.deepEqual(read.json(), { value: 'ada' });
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(spy.calls.touch >= 2, true, `touches: ${spy.calls.touch}`);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.message, /a rolling renewal failed \(STORE_UNAVAILABLE\)/);
  });
});

describe('a store method that throws synchronously', () => {
  it('fails the request with STORE_UNAVAILABLE, as a rejection does, and the next request works', async () => {
    let broken = false;
    const store = new (class extends SpyStore {
      override get(id: string) {
        if (broken) throw new TypeError('the driver is not connected');
        return super.get(id);
      }
    })();
    const url = await serve({ store });
    const browser = new Client(url);
    await browser.get('/write/user/ada');
    broken = true;
    const failed = await browser.get('/read/user');
    assert.equal(failed.status, 503, failed.body);
    assert.equal(failed.json<{ code: string }>().code, 'STORE_UNAVAILABLE');
    broken = false;
    assert.deepEqual((await browser.get('/read/user')).json(), { value: 'ada' });
  });
});
