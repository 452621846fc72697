/** The two-process suite (processes.ts) on one Redis, each run under a random key prefix. */
import { resolve } from 'node:path';
import { createClient } from 'redis';
import { REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';
import { describeTwoProcesses } from './processes.js';

describeTwoProcesses('Redis', await redisSkipReason(), async () => {
  const prefix = randomPrefix('multi');
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  return {
    fixture: resolve(import.meta.dirname, '../fixtures/redis-app.ts'),
    env: { REDIS_URL, PREFIX: prefix },
    exists: async (id) => (await redis.exists(`${prefix}${id}`)) === 1,
    async cleanup() {
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
        for (const key of keys) await redis.del(key);
      }
      await redis.quit();
    },
  };
});
