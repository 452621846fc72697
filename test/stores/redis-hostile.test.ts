/**
 * RedisStore given hostile input: hashes under the prefix written by something else with field
 * names the store never writes, and records or changes that break the store contract (data that
 * is not an object, times that are not numbers). Each is read as no session or refused with a
 * clear error; nothing crashes and nothing else is lost. On the machine's Redis; without one the
 * file skips, except under CI=true or REQUIRE_REDIS=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { InvalidSessionDataError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { SessionRecord } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';
import { deleteKeys, REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';

const skip = await redisSkipReason();

describe('RedisStore: hostile hashes and contract-breaking input', { skip }, () => {
  let client: ReturnType<typeof createClient>;
  let store: RedisStore;
  const prefix = randomPrefix('hostile');
  const reported: Error[] = [];
  const raw = (...args: string[]) => client.sendCommand(args);

  before(async () => {
    client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    store = new RedisStore({ client, prefix, onError: (e) => reported.push(e) });
  });
  after(async () => {
    await store?.close();
    if (client) {
      await deleteKeys(raw, prefix);
      await client.close();
    }
  });

  /** A hash under the prefix with live timestamps and the given extra fields. */
  async function plant(...fields: string[]): Promise<string> {
    const id = generateSessionId();
    const now = Date.now();
    await raw('HSET', prefix + id, 'c', String(now), 'e', String(now + HOUR), ...fields);
    return id;
  }

  it('a j: field whose name decodes to a non-string makes the session unreadable and is reported', async () => {
    reported.length = 0;
    const id = await plant('d:user', '"ada"', 'j:42', '"x"');
    assert.equal(await store.get(id), undefined);
    assert.equal(reported.length, 1);
    assert.match(reported[0]!.message, /malformed field name/);
    assert.doesNotMatch(reported[0]!.message, new RegExp(id));
  });

  it('a j: field whose name is not JSON makes the session unreadable and is reported', async () => {
    reported.length = 0;
    const id = await plant('d:user', '"ada"', 'j:{oops', '"x"');
    assert.equal(await store.get(id), undefined);
    assert.equal(reported.length, 1);
    assert.match(reported[0]!.message, /not JSON/);
  });

  it('fields the store never writes (neither c, e, d: nor j:) are ignored', async () => {
    const id = await plant('d:user', '"ada"', 'other', 'whatever');
    assert.deepEqual({ ...(await store.get(id))?.data }, { user: 'ada' });
  });

  it('a key holding undefined is left out, as JSON leaves it out', async () => {
    const id = generateSessionId();
    assert.equal(await store.create(id, record({ user: 'ada', gone: undefined })), true);
    assert.deepEqual({ ...(await store.get(id))?.data }, { user: 'ada' });
    assert.deepEqual(
      await raw('HKEYS', prefix + id).then((k) => (k as unknown as string[]).sort()),
      ['c', 'd:user', 'e'],
    );
  });

  it('a record without data creates an empty session', async () => {
    const id = generateSessionId();
    const now = Date.now();
    const bare = { createdAt: now, expiresAt: now + HOUR } as unknown as SessionRecord;
    assert.equal(await store.create(id, bare), true);
    assert.deepEqual({ ...(await store.get(id))?.data }, {});
  });

  it('data that is not an object is refused with InvalidSessionDataError and writes nothing', async () => {
    const id = generateSessionId();
    const now = Date.now();
    const bad = { data: 'ada', createdAt: now, expiresAt: now + HOUR } as unknown as SessionRecord;
    await assert.rejects(store.create(id, bad), InvalidSessionDataError);
    assert.equal(await raw('EXISTS', prefix + id), 0);
    assert.equal(await store.create(id, record({ user: 'ada' })), true);
    await assert.rejects(
      store.update(id, { set: 7 as never }, now + HOUR),
      (error: Error) => error instanceof InvalidSessionDataError && /object/.test(error.message),
    );
    assert.deepEqual({ ...(await store.get(id))?.data }, { user: 'ada' });
  });

  it('times that are not finite numbers are refused with a message naming them', async () => {
    const id = generateSessionId();
    const good = record({ user: 'ada' });
    await assert.rejects(
      store.create(id, { ...good, expiresAt: Number.NaN }),
      (error: Error) => error instanceof InvalidSessionDataError && /expiresAt/.test(error.message),
    );
    await assert.rejects(
      store.create(id, { ...good, createdAt: '1' as unknown as number }),
      (error: Error) => error instanceof InvalidSessionDataError && /createdAt/.test(error.message),
    );
    assert.equal(await raw('EXISTS', prefix + id), 0);
    assert.equal(await store.create(id, good), true);
    await assert.rejects(store.touch(id, Number.POSITIVE_INFINITY), InvalidSessionDataError);
    assert.equal((await store.get(id))?.expiresAt, good.expiresAt);
  });
});
