/**
 * Two express-session app processes on `toExpressStore(RedisStore)` sharing one Redis: the
 * cookie works on both, concurrent writes of different keys through both land, and a logout on
 * one is not undone by a slow request on the other.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';
import { type App, startApp, stopApp } from '../stores/processes.js';

const skip = await redisSkipReason();
const fixture = resolve(import.meta.dirname, '../fixtures/express-session-redis-app.ts');

function startRedisApp(prefix: string): Promise<App> {
  return startApp(fixture, { REDIS_URL, PREFIX: prefix });
}

async function call(url: string, cookie?: string) {
  const res = await fetch(url, { headers: cookie ? { cookie } : {} });
  return {
    setCookie: res.headers.get('set-cookie'),
    body: (await res.json()) as { id?: string; data?: Record<string, string> },
  };
}

describe('two express-session processes on toExpressStore(RedisStore)', {
  skip,
  timeout: 60_000,
}, () => {
  const prefix = randomPrefix('es-multi');
  let a: App;
  let b: App;
  const redis = createClient({ url: REDIS_URL });

  before(async () => {
    await redis.connect();
    [a, b] = await Promise.all([startRedisApp(prefix), startRedisApp(prefix)]);
  });
  after(async () => {
    await Promise.all([stopApp(a), stopApp(b)]);
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*` })) {
      if (keys.length > 0) await redis.del(keys);
    }
    await redis.quit();
  });

  it('one cookie, both processes, concurrent keys all land, logout stays', async () => {
    const first = await call(`${a.url}/set?k=start&v=1`);
    const cookie = first.setCookie!.split(';')[0]!;
    await Promise.all([
      call(`${a.url}/set?k=a&v=1`, cookie),
      call(`${b.url}/set?k=b&v=2`, cookie),
      call(`${b.url}/slow?ms=150`, cookie),
    ]);
    const seen = await call(`${b.url}/data`, cookie);
    assert.equal(seen.body.id, first.body.id);
    assert.deepEqual(seen.body.data, { start: '1', a: '1', b: '2', late: 'write' });

    const slow = call(`${a.url}/slow?ms=300`, cookie);
    await sleep(100);
    await call(`${b.url}/logout`, cookie);
    await slow;
    const after = await call(`${a.url}/data`, cookie);
    assert.notEqual(after.body.id, first.body.id, 'the logged-out id is not used again');
    assert.deepEqual(after.body.data, {});
  });
});
