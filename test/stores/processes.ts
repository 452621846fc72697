/**
 * Two app processes on one shared store, asserted the same way for every store that can be
 * shared: a fixture app (test/fixtures/session-app.ts behind a store-specific entry) runs twice
 * on different ports; cookies travel between them, concurrent key-level writes through both land,
 * a logout on one is seen by the other, and a request in flight during that logout does not bring
 * the session back.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** A fixture app running in a child process. */
export interface App {
  child: ChildProcess;
  url: string;
}

/** Spawns `fixture` (a .ts file run through tsx) with `env` and waits for its port. */
export async function startApp(fixture: string, env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8');
  const port = await new Promise<number>((resolvePort, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (match) resolvePort(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`app exited early with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Ends an app started by {@link startApp} and waits for its exit. */
export async function stopApp(app: App | undefined): Promise<void> {
  if (app && app.child.exitCode === null) {
    app.child.kill('SIGTERM');
    await once(app.child, 'exit');
  }
}

/** One GET with an optional cookie; the JSON body and the Set-Cookie header. */
export async function call(app: App, path: string, cookie?: string) {
  const res = await fetch(app.url + path, { headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get('set-cookie');
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, setCookie };
}

/** The `name=value` part of a Set-Cookie header. */
export function cookieOf(setCookie: string | null): string {
  assert.ok(setCookie, 'expected a Set-Cookie header');
  return setCookie.split(';')[0]!;
}

export interface SharedStore {
  /** The fixture entry to run twice. */
  fixture: string;
  /** Its environment (connection, prefix or table). */
  env: Record<string, string>;
  /** True when the store still holds session `id` (looked up from outside the apps). */
  exists(id: string): Promise<boolean>;
  /** Removes what the apps stored and closes the test's own connections. */
  cleanup(): Promise<void>;
}

/** The two-process suite on `setup()`'s store; `skip` skips it with that message. */
export function describeTwoProcesses(
  name: string,
  skip: string | undefined,
  setup: () => Promise<SharedStore>,
): void {
  describe(`two app processes sharing one ${name}`, { skip, timeout: 60_000 }, () => {
    let shared: SharedStore;
    let a: App;
    let b: App;

    before(async () => {
      shared = await setup();
      [a, b] = await Promise.all([
        startApp(shared.fixture, shared.env),
        startApp(shared.fixture, shared.env),
      ]);
    });

    after(async () => {
      await Promise.all([stopApp(a), stopApp(b)]);
      await shared?.cleanup();
    });

    it('a cookie issued by one process works on the other', async () => {
      const first = await call(a, '/set?k=user&v=ada');
      const cookie = cookieOf(first.setCookie);
      const read = await call(b, '/data', cookie);
      assert.equal(read.body.id, first.body.id);
      assert.deepEqual(read.body.data, { user: 'ada' });
    });

    it('concurrent requests through both setting different keys all land', async () => {
      const cookie = cookieOf((await call(a, '/set?k=start&v=1')).setCookie);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => call(i % 2 ? a : b, `/set?k=k${i}&v=${i}`, cookie)),
      );
      for (const r of results) assert.equal(r.status, 200);
      const { body } = await call(a, '/data', cookie);
      const data = body.data as Record<string, string>;
      for (let i = 0; i < 40; i++) assert.equal(data[`k${i}`], String(i), `k${i} was lost`);
      assert.equal(data.start, '1');
    });

    it('a logout on one process is seen by the other', async () => {
      const cookie = cookieOf((await call(a, '/set?k=user&v=bob')).setCookie);
      const out = await call(b, '/logout', cookie);
      assert.match(out.setCookie ?? '', /Expires=Thu, 01 Jan 1970/);
      const after = await call(a, '/data', cookie);
      assert.equal(after.body.id, null);
    });

    it('a request in flight during the logout does not bring the session back', async () => {
      const first = await call(a, '/set?k=user&v=eve');
      const cookie = cookieOf(first.setCookie);
      const id = String(first.body.id);
      assert.equal(await shared.exists(id), true);
      const slow = call(b, '/slow?ms=400', cookie);
      await sleep(100);
      await call(a, '/logout', cookie);
      const late = await slow;
      assert.equal(late.status, 409);
      assert.equal(late.body.code, 'SESSION_DESTROYED');
      assert.equal(await shared.exists(id), false);
      assert.equal((await call(b, '/data', cookie)).body.id, null);
    });
  });
}
