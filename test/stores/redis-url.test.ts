/**
 * RedisStore with `url`: the store opens its own node-redis client on first use, whichever method
 * comes first, refuses work once closed (also when closed while connecting), and clears a prefix
 * on a Redis that has no UNLINK (Redis before 4, or a server that renamed it) with DEL. On the
 * machine's Redis and on a private `redis-server`; without them the file skips, except under
 * CI=true or REQUIRE_REDIS=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { InvalidOptionError, StoreClosedError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { record } from '../helpers/records.js';
import {
  canSpawnRedisServer,
  deleteKeys,
  REDIS_REQUIRED,
  REDIS_URL,
  RedisServer,
  randomPrefix,
  redisSkipReason,
} from '../helpers/redis.js';

const skip = await redisSkipReason();

describe('RedisStore url: the owned client opens on the first call of any method', { skip }, () => {
  const prefix = randomPrefix('url-first');
  const raw = createClient({ url: REDIS_URL });
  const ids = [generateSessionId(), generateSessionId()];

  before(async () => {
    raw.on('error', () => {});
    await raw.connect();
    const seed = new RedisStore({ url: REDIS_URL, prefix });
    for (const id of ids) await seed.create(id, record({ id }));
    await seed.close();
  });
  after(async () => {
    await deleteKeys((...args) => raw.sendCommand(args), prefix);
    await raw.close();
  });

  it('get() first', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    assert.equal((await store.get(ids[0]!))?.data.id, ids[0]);
    await store.close();
  });

  it('length() first', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    assert.equal(await store.length(), 2);
    await store.close();
  });

  it('all() first', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const seen: string[] = [];
    for await (const [id] of store.all()) seen.push(id);
    assert.deepEqual(seen.sort(), [...ids].sort());
    await store.close();
  });

  it('clear() first, last of all: removes every session under the prefix', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    await store.clear();
    assert.equal(await store.length(), 0);
    await store.close();
  });

  it('a call still connecting when close() runs rejects with StoreClosedError', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const pending = store.get(ids[0]!);
    await store.close();
    await assert.rejects(pending, StoreClosedError);
    await assert.rejects(store.length(), StoreClosedError);
  });
});

describe('RedisStore: a url or client of the wrong kind', () => {
  it('a url that is not a string is refused with a message naming url and what it got', () => {
    assert.throws(
      () => new RedisStore({ url: 6379 as unknown as string }),
      (error: Error) =>
        error instanceof InvalidOptionError && /url must be .*, got 6379$/.test(error.message),
    );
  });

  it('a url string given as client is refused, naming client (pass it as url)', () => {
    assert.throws(
      () => new RedisStore({ client: REDIS_URL as never }),
      (error: Error) =>
        error instanceof InvalidOptionError &&
        /^session-store-js: client must be /.test(error.message),
    );
  });
});

const spawnable = await canSpawnRedisServer();
if (!spawnable && REDIS_REQUIRED)
  throw new Error('redis-server is required (CI=true or REQUIRE_REDIS=1)');

describe('RedisStore on a Redis without UNLINK', {
  skip: spawnable ? undefined : 'redis-server is not installed',
}, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start({ args: ['--rename-command', 'UNLINK', ''] });
  });
  after(async () => {
    await server?.stop();
  });

  it('clear() falls back to DEL and removes every session, twice in a row', async () => {
    const store = new RedisStore({ url: server.url, prefix: randomPrefix('no-unlink') });
    try {
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 3; i++) await store.create(generateSessionId(), record({ i }));
        assert.equal(await store.length(), 3);
        await store.clear();
        assert.equal(await store.length(), 0);
      }
    } finally {
      await store.close();
    }
  });
});
