/**
 * The MemoryStore example app (`npm start`) as a user runs it: a child process on a free port,
 * driven over HTTP with a cookie jar. It requires the built package (`require('session-store-js')`
 * resolves to dist/), so `npx tshy` (or `npm test`, which builds first) must have run.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { assertBuilt, startExample } from './helpers/example.js';
import { Client, expiresOf, type Reply, type SetCookie } from './helpers/http.js';

const COOKIE = 'custom.sid';
const EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';

function only(reply: Reply): SetCookie {
  const cookies = reply.cookiesNamed(COOKIE);
  assert.equal(
    cookies.length,
    1,
    `one Set-Cookie for ${COOKIE}: ${reply.headers.get('set-cookie')}`,
  );
  return cookies[0]!;
}

function idOf(cookieValue: string): string {
  return /^s:([^.]*)\./.exec(decodeURIComponent(cookieValue))![1]!;
}

describe('examples/memory-app.cjs over HTTP', () => {
  let child: ChildProcess | undefined;
  let base = '';

  before(async () => {
    assertBuilt('examples/memory-app.cjs');
    ({ child, base } = await startExample('examples/memory-app.cjs'));
  });

  after(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child!.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  });

  const alice = () => clients.alice;
  const clients = {} as { alice: Client; bob: Client };
  /** The Expires of alice's cookie when her session was created. */
  let createdExpires = 0;

  it('counts visits 1, 2, 3 for one visitor; the cookie goes out when the session is created', async () => {
    clients.alice = new Client(base);
    for (const n of [1, 2, 3]) {
      const reply = await alice().get('/');
      assert.equal(reply.status, 200);
      assert.equal(reply.body, `Visits: ${n}`);
      if (n > 1) {
        // renewOnWrite 'touchAfter' (the default): writes within touchAfter send no cookie.
        assert.equal(reply.cookiesNamed(COOKIE).length, 0);
        assert.equal(reply.headers.get('cache-control'), null);
        continue;
      }
      const cookie = only(reply);
      createdExpires = expiresOf(cookie)!;
      assert.equal(cookie.attributes.get('httponly'), true);
      assert.equal(cookie.attributes.get('samesite'), 'Lax');
      assert.equal(cookie.attributes.get('path'), '/');
      assert.equal(reply.headers.get('cache-control'), 'no-store');
    }
  });

  it('a second visitor starts at 1, independently', async () => {
    clients.bob = new Client(base);
    assert.equal((await clients.bob.get('/')).body, 'Visits: 1');
    assert.notEqual(clients.bob.jar.get(COOKIE), alice().jar.get(COOKIE));
    assert.equal((await alice().get('/')).body, 'Visits: 4');
  });

  it('/all-sessions lists both sessions with their visits', async () => {
    const reply = await new Client(base).get('/all-sessions');
    assert.equal(reply.status, 200);
    const all = reply.json<Record<string, { visits: number }>>();
    assert.equal(Object.keys(all).length, 2);
    assert.deepEqual(all[idOf(alice().jar.get(COOKIE)!)], { visits: 4 });
    assert.deepEqual(all[idOf(clients.bob.jar.get(COOKIE)!)], { visits: 1 });
  });

  it('/touch keeps the data and re-sends the cookie with a later or equal Expires', async () => {
    assert.equal((await alice().get('/')).body, 'Visits: 5');
    const before = alice().jar.get(COOKIE);
    const reply = await alice().get('/touch');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'Session touched');
    const touched = only(reply);
    assert.equal(touched.value, before);
    assert.ok(expiresOf(touched)! >= createdExpires);
    assert.equal((await alice().get('/')).body, 'Visits: 6');
    const nobody = await new Client(base).get('/touch');
    assert.equal(nobody.body, 'No session to touch');
    assert.equal(nobody.cookies.length, 0);
  });

  it('/logout clears the cookie; the next visit counts 1 again with a different id', async () => {
    const oldId = idOf(alice().jar.get(COOKIE)!);
    const oldCookie = alice().jar.get(COOKIE)!;
    const reply = await alice().get('/logout');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'Logged out');
    const cleared = only(reply);
    assert.equal(cleared.value, '');
    assert.equal(cleared.attributes.get('expires'), EPOCH);
    assert.equal(alice().jar.has(COOKIE), false);
    const again = await alice().get('/');
    assert.equal(again.body, 'Visits: 1');
    assert.notEqual(idOf(only(again).value), oldId);
    // the logged-out cookie replays as a stranger
    const replay = new Client(base);
    replay.jar.set(COOKIE, oldCookie);
    assert.equal((await replay.get('/')).body, 'Visits: 1');
  });

  it('/clear-all empties the store; old cookies then count from 1', async () => {
    const reply = await new Client(base).get('/clear-all');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'All sessions cleared');
    assert.deepEqual((await new Client(base).get('/all-sessions')).json(), {});
    assert.equal((await clients.bob.get('/')).body, 'Visits: 1');
    assert.equal((await alice().get('/')).body, 'Visits: 1');
    assert.equal(
      Object.keys((await new Client(base).get('/all-sessions')).json<object>()).length,
      2,
    );
  });

  it('the maintenance routes respond 200', async () => {
    const routes: [string, string][] = [
      ['/stop-cleanup', 'Cleanup stopped'],
      ['/start-cleanup', 'Cleanup started'],
      ['/stop-index-rebuild', 'Index rebuild stopped'],
      ['/start-index-rebuild', 'Index rebuild started'],
    ];
    for (const [path, body] of routes) {
      const reply = await new Client(base).get(path);
      assert.equal(reply.status, 200, path);
      assert.equal(reply.body, body, path);
    }
    // still serving sessions afterwards
    assert.equal((await alice().get('/')).body, 'Visits: 2');
  });
});
