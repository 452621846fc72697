/**
 * RedisStore where Redis holds what the store did not write, or refuses what it asks: a user's
 * epoch that is not a number, a user index or a session key of the wrong type, a session field
 * that is not JSON being moved, a script cache flushed between user-index calls, and a store
 * pointed at a read-only replica. Reads fail closed, writes reject with a typed error naming
 * the Redis error, and other keys are untouched. Private `redis-server` processes on free
 * loopback ports; without the binary the file skips, except under CI=true or REQUIRE_REDIS=1.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { StoreUnavailableError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';
import {
  canSpawnRedisServer,
  REDIS_REQUIRED,
  RedisServer,
  randomPrefix,
} from '../helpers/redis.js';

const spawnable = await canSpawnRedisServer();
if (!spawnable && REDIS_REQUIRED) {
  throw new Error('redis-server is required (CI=true or REQUIRE_REDIS=1)');
}
const skip = spawnable ? undefined : 'redis-server is not installed';

const hashOf = (userId: string) => createHash('sha256').update(userId).digest('base64url');
/** A move that keeps every key, as regenerate({ keep: true }) asks for. */
const keepAll = () => {
  const now = Date.now();
  return { keep: true as const, createdAt: now, expiresAt: now + HOUR, forwardUntil: now + 10_000 };
};
/** A record bound to `userId`, as the manager writes one. */
const bound = (userId: string, data: Record<string, unknown> = {}) =>
  record({ ...data, [USER_BINDING_KEY]: { id: userId, epoch: 0 } });

describe('RedisStore on keys it did not write', { skip }, () => {
  let server: RedisServer;
  let client: ReturnType<typeof createClient>;
  let store: RedisStore;
  const prefix = randomPrefix('misplaced');
  const raw = (...args: string[]) => client.sendCommand(args);

  before(async () => {
    server = await RedisServer.start();
    client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    store = new RedisStore({ client, prefix, onError: () => {} });
  });
  after(async () => {
    await store?.close();
    client?.destroy();
    await server?.stop();
  });

  it("a user's epoch that is not a number reads as 0, and raising it replaces it", async () => {
    await raw('SET', `${prefix}ue:{${hashOf('ada')}}`, 'not a number');
    assert.equal(await store.userEpoch('ada'), 0);
    assert.ok((await store.raiseUserEpoch('ada', 5)) >= 5);
    assert.ok((await store.userEpoch('ada')) >= 5);
  });

  it("a user index of the wrong type: that user's calls reject with StoreUnavailableError naming WRONGTYPE; others work", async () => {
    await raw('SET', `${prefix}u:{${hashOf('bob')}}`, 'a string, not a sorted set');
    const wrongType = (error: unknown) =>
      error instanceof StoreUnavailableError && /WRONGTYPE/.test(error.message);
    await assert.rejects(store.listUser('bob'), wrongType);
    await assert.rejects(
      store.createForUser(generateSessionId(), record({ a: 1 }), 'bob'),
      wrongType,
    );
    const id = generateSessionId();
    assert.equal((await store.createForUser(id, bound('carol'), 'carol')).status, 'created');
    assert.deepEqual(
      (await store.listUser('carol')).map(([sid]) => sid),
      [id],
    );
  });

  it('a move from a key of the wrong type finds no session, creates none and leaves the key', async () => {
    const oldId = generateSessionId();
    const newId = generateSessionId();
    await raw('SET', prefix + oldId, 'a string, not a hash');
    const moved = await store.move(oldId, newId, keepAll());
    assert.equal(moved.status, 'missing');
    assert.equal(await raw('EXISTS', prefix + newId), 0);
    assert.equal(await raw('GET', prefix + oldId), 'a string, not a hash');
  });

  it('a session with a field that is not JSON moves with no readable data, and the copy stays unreadable', async () => {
    const oldId = generateSessionId();
    const newId = generateSessionId();
    assert.equal(await store.create(oldId, record({ user: 'ada' })), true);
    await raw('HSET', prefix + oldId, 'd:flag', '{not json');
    const moved = await store.move(oldId, newId, keepAll());
    assert.equal(moved.status, 'moved');
    assert.deepEqual({ ...(moved.status === 'moved' ? moved.data : {}) }, {});
    assert.equal(await store.get(newId), undefined);
    assert.equal(await store.get(oldId), undefined);
  });

  it('the user-index scripts run again after the script cache was flushed', async () => {
    const first = generateSessionId();
    assert.equal((await store.createForUser(first, bound('dave'), 'dave')).status, 'created');
    await raw('SCRIPT', 'FLUSH');
    const second = generateSessionId();
    assert.equal((await store.createForUser(second, bound('dave'), 'dave')).status, 'created');
    await raw('SCRIPT', 'FLUSH');
    assert.ok((await store.raiseUserEpoch('dave', 3)) >= 3);
    assert.deepEqual(
      (await store.listUser('dave')).map(([sid]) => sid).sort(),
      [first, second].sort(),
    );
  });
});

describe('RedisStore pointed at a read-only replica', { skip }, () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let client: ReturnType<typeof createClient>;

  before(async () => {
    primary = await RedisServer.start();
    replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    client = createClient({ url: replica.url, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
  });
  after(async () => {
    client?.destroy();
    await replica?.stop();
    await primary?.stop();
  });

  it('writes reject with StoreUnavailableError (Redis unavailable: READONLY, a state to retry); reads of what the primary wrote work', async () => {
    const onPrimary = new RedisStore({ url: primary.url });
    const id = generateSessionId();
    assert.equal(await onPrimary.create(id, record({ user: 'ada' })), true);
    await onPrimary.close();
    const store = new RedisStore({ client });
    let read = await store.get(id);
    for (let i = 0; i < 100 && read === undefined; i++) {
      await sleep(50);
      read = await store.get(id);
    }
    assert.equal(read?.data.user, 'ada');
    await assert.rejects(
      store.create(generateSessionId(), record({ a: 1 })),
      (error: unknown) =>
        error instanceof StoreUnavailableError &&
        /Redis is unavailable \(READONLY/.test(error.message),
    );
    await assert.rejects(store.update(id, { set: { a: 1 } }, Date.now() + HOUR), /READONLY/);
    await store.close();
  });
});
