/**
 * Two Express app processes on different ports sharing one Redis: cookies travel between them,
 * concurrent key-level writes through both land, a logout on one is seen by the other, and a
 * request in flight during that logout does not bring the session back.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';

const skip = await redisSkipReason();
const fixture = resolve(import.meta.dirname, '../fixtures/redis-app.ts');

interface App {
  child: ChildProcess;
  url: string;
}

async function startApp(prefix: string): Promise<App> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, REDIS_URL, PREFIX: prefix },
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

async function call(app: App, path: string, cookie?: string) {
  const res = await fetch(app.url + path, { headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get('set-cookie');
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, setCookie };
}

function cookieOf(setCookie: string | null): string {
  assert.ok(setCookie, 'expected a Set-Cookie header');
  return setCookie.split(';')[0]!;
}

describe('two app processes sharing one Redis', { skip, timeout: 60_000 }, () => {
  const prefix = randomPrefix('multi');
  let a: App;
  let b: App;
  const redis = createClient({ url: REDIS_URL });

  before(async () => {
    await redis.connect();
    [a, b] = await Promise.all([startApp(prefix), startApp(prefix)]);
  });

  after(async () => {
    for (const app of [a, b]) {
      if (app && app.child.exitCode === null) {
        app.child.kill('SIGTERM');
        await once(app.child, 'exit');
      }
    }
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
      for (const key of keys) await redis.del(key);
    }
    await redis.quit();
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
    const slow = call(b, '/slow?ms=400', cookie);
    await sleep(100);
    await call(a, '/logout', cookie);
    const late = await slow;
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'SESSION_DESTROYED');
    assert.equal(await redis.exists(`${prefix}${id}`), 0);
    assert.equal((await call(b, '/data', cookie)).body.id, null);
  });
});
