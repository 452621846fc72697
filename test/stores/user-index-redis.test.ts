/**
 * RedisStore's user index on the shared Redis, with node-redis and ioredis: the tier's compliance
 * suite (Redis commands counted on the client), the HTTP suite, and what is specific to Redis:
 * the index is a sorted set scored by expiry whose key expires at its highest score.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { INDEX_LEAD_MS } from '../../src/stores/redis/scripts.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import {
  deleteKeys,
  type RecordingConnection,
  randomPrefix,
  recordingConnection,
  redisSkipReason,
} from '../helpers/redis.js';
import { describeUserIndex } from './user-index-compliance.js';
import { describeUserSessionsHttp } from './user-sessions-http.js';

const skip = await redisSkipReason();

if (skip) {
  describe('RedisStore user index', { skip }, () => {
    it('needs a Redis server', () => {});
  });
} else {
  for (const flavour of ['node-redis', 'ioredis'] as const) {
    describeUserIndex(`RedisStore (${flavour})`, async () => {
      const conn = await recordingConnection(flavour);
      const prefix = randomPrefix(`users-${flavour}`);
      return {
        store: new RedisStore({ client: conn.client, prefix }),
        operations: () => conn.commands.length,
        // A session it has seen bound gets its user's epoch read in the same round trip.
        epochWithRecord: 'never',
        async cleanup() {
          await deleteKeys(conn.raw, prefix);
          await conn.quit();
        },
      };
    });
  }

  const conns: RecordingConnection[] = [];
  describeUserSessionsHttp('RedisStore', async () => {
    const conn = await recordingConnection('node-redis');
    conns.push(conn);
    const prefix = randomPrefix('users-http');
    const store = new RedisStore({ client: conn.client, prefix });
    return {
      store,
      indexSize: async (userId) => Number(await conn.raw('ZCARD', indexKeyOf(store, userId))),
      refusesLateLogins: true,
      async cleanup() {
        await deleteKeys(conn.raw, prefix);
        await conn.quit();
      },
    };
  });

  describe('RedisStore user index: Redis specifics', () => {
    let conn: RecordingConnection;
    let prefix: string;
    let store: RedisStore;
    before(async () => {
      conn = await recordingConnection('node-redis');
      prefix = randomPrefix('users-redis');
      store = new RedisStore({ client: conn.client, prefix });
    });
    after(async () => {
      await deleteKeys(conn.raw, prefix);
      await conn.quit();
    });

    it('keeps one sorted set per user, scored by expiry, expiring at its highest score', async () => {
      const now = Date.now();
      const ids = [generateSessionId(), generateSessionId()];
      for (const [i, id] of ids.entries()) {
        const data = { [USER_BINDING_KEY]: { id: 'zed', epoch: 0 } };
        await store.createForUser(
          id,
          { data, createdAt: now, expiresAt: now + 1000 * (i + 5) },
          'zed',
        );
      }
      const idx = indexKeyOf(store, 'zed');
      assert.ok(!idx.includes('zed'), 'the key does not reveal the user id');
      const scores = (await conn.raw('ZRANGE', idx, '0', '-1', 'WITHSCORES')) as string[];
      assert.deepEqual(scores, [
        prefix + ids[0],
        String(now + 5000),
        prefix + ids[1],
        String(now + 6000),
      ]);
      assert.equal(Number(await conn.raw('PEXPIRETIME', idx)), now + 6000);
      // A renewal sets the score a second (INDEX_LEAD_MS) ahead of the new expiry, and the
      // renewals within that second leave it: they don't pass it.
      await store.touch(ids[0]!, now + 9000);
      assert.equal(
        Number(await conn.raw('ZSCORE', idx, prefix + ids[0])),
        now + 9000 + INDEX_LEAD_MS,
      );
      assert.equal(Number(await conn.raw('PEXPIRETIME', idx)), now + 9000 + INDEX_LEAD_MS);
      await store.update(ids[0]!, { set: { n: 1 } }, now + 9000 + INDEX_LEAD_MS);
      assert.equal(
        Number(await conn.raw('ZSCORE', idx, prefix + ids[0])),
        now + 9000 + INDEX_LEAD_MS,
      );
      await store.update(ids[0]!, { set: { n: 2 } }, now + 9001 + INDEX_LEAD_MS);
      assert.equal(
        Number(await conn.raw('ZSCORE', idx, prefix + ids[0])),
        now + 9001 + 2 * INDEX_LEAD_MS,
        'past it: moved again',
      );
      assert.equal(Number(await conn.raw('PEXPIRETIME', idx)), now + 9001 + 2 * INDEX_LEAD_MS);
      assert.equal(await store.length(), 2, 'index and epoch keys are not sessions');
      await store.raiseUserEpoch('zed', now);
      const count: string[] = [];
      for await (const [id] of store.all()) count.push(id);
      assert.deepEqual(count.sort(), [...ids].sort());
    });

    it('the index key disappears with its last session', async () => {
      const now = Date.now();
      const data = { [USER_BINDING_KEY]: { id: 'yan', epoch: 0 } };
      await store.createForUser(
        generateSessionId(),
        { data, createdAt: now, expiresAt: now + 300 },
        'yan',
      );
      const idx = indexKeyOf(store, 'yan');
      assert.equal(Number(await conn.raw('EXISTS', idx)), 1);
      await sleep(400);
      assert.equal(Number(await conn.raw('EXISTS', idx)), 0);
    });
  });
}

/** The index key of a user: the prefix, `u:` and the SHA-256 of the id as a hash tag. */
function indexKeyOf(store: RedisStore, userId: string): string {
  return `${store.prefix}u:{${createHash('sha256').update(userId).digest('base64url')}}`;
}
