/**
 * RedisStore against the machine's Redis (REDIS_URL or 127.0.0.1:6379): the compliance suite
 * with node-redis (RESP2 and RESP3) and with ioredis, each under its own random prefix, then
 * what is specific to Redis (key layout, expiry, prefix isolation, unreadable keys, SCAN at
 * scale, no I/O for bad ids).
 * Without a reachable Redis the file skips, except under CI=true or REQUIRE_REDIS=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import {
  InvalidOptionError,
  InvalidSessionIdError,
  StoreClosedError,
  StoreUnavailableError,
} from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/redis-store.js';
import { HOUR, record } from '../helpers/records.js';
import { deleteKeys, REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';
import { describeStore, HOSTILE_IDS } from './compliance.js';

/** A hang (a promise that never settles) fails with the test's name instead of stalling the run. */
const TEST_TIMEOUT = 60_000;
const skip = await redisSkipReason();

/** A raw command sender used by the tests to look at Redis from outside the store. */
type Raw = (...args: string[]) => Promise<unknown>;

interface Flavour {
  name: string;
  /** A connected client, a raw sender on it, and a way to close it. */
  connect(): Promise<{ client: RedisStoreOptions['client']; raw: Raw; quit(): Promise<void> }>;
}

async function connectNodeRedis(RESP: 2 | 3): ReturnType<Flavour['connect']> {
  const client = createClient({ url: REDIS_URL, RESP, disableOfflineQueue: true });
  client.on('error', () => {});
  await client.connect();
  return {
    client,
    raw: (...args) => client.sendCommand(args),
    quit: async () => {
      await client.close();
    },
  };
}

const FLAVOURS: Flavour[] = [
  { name: 'node-redis', connect: () => connectNodeRedis(2) },
  { name: 'node-redis RESP3', connect: () => connectNodeRedis(3) },
  {
    name: 'ioredis',
    async connect() {
      const client = new Redis(REDIS_URL, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
      });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        raw: (cmd, ...args) => client.call(cmd, ...args),
        quit: async () => {
          await client.quit();
        },
      };
    },
  },
];

if (skip) {
  describe('RedisStore', { skip }, () => {
    it('needs a Redis server', () => {});
  });
} else {
  for (const flavour of FLAVOURS) {
    describeStore(`RedisStore (${flavour.name})`, async () => {
      const conn = await flavour.connect();
      const prefix = randomPrefix(flavour.name.replace(' ', '-'));
      return {
        store: new RedisStore({ client: conn.client, prefix }),
        reopen: () => new RedisStore({ client: conn.client, prefix }),
        async cleanup() {
          await deleteKeys(conn.raw, prefix);
          await conn.quit();
        },
      };
    });

    describe(`RedisStore (${flavour.name}): Redis specifics`, { timeout: TEST_TIMEOUT }, () => {
      let conn: Awaited<ReturnType<Flavour['connect']>>;
      let raw: Raw;
      let prefix: string;
      let store: RedisStore;
      const reported: Error[] = [];
      const cleanups: string[] = [];

      before(async () => {
        conn = await flavour.connect();
        raw = conn.raw;
        prefix = randomPrefix(flavour.name.replace(' ', '-'));
        cleanups.push(prefix);
        store = new RedisStore({
          client: conn.client,
          prefix,
          scanCount: 100,
          onError: (e) => reported.push(e),
        });
      });
      after(async () => {
        await store.close();
        for (const p of cleanups) await deleteKeys(raw, p);
        await conn.quit();
      });

      it('stores one hash per session: c, e, d:<key> as JSON, and expiry at expiresAt', async () => {
        const id = generateSessionId();
        const rec = record({ user: 'ada', roles: ['admin'] });
        assert.equal(await store.create(id, rec), true);
        const key = prefix + id;
        assert.equal(await raw('TYPE', key), 'hash');
        const fields = (await raw('HGETALL', key)) as string[] | Record<string, string>;
        const map = Array.isArray(fields)
          ? Object.fromEntries(
              Array.from({ length: fields.length / 2 }, (_, i) => [
                fields[2 * i],
                fields[2 * i + 1],
              ]),
            )
          : fields;
        assert.deepEqual(
          { ...map },
          {
            c: String(rec.createdAt),
            e: String(rec.expiresAt),
            'd:user': '"ada"',
            'd:roles': '["admin"]',
          },
        );
        assert.equal(Number(await raw('PEXPIRETIME', key)), rec.expiresAt);
        const pttl = Number(await raw('PTTL', key));
        assert.ok(pttl > HOUR - 5_000 && pttl <= HOUR, `PTTL ${pttl}`);

        const later = Date.now() + 2 * HOUR;
        assert.equal(
          await store.update(id, { set: { user: 'bob' }, unset: ['roles'] }, later),
          true,
        );
        assert.equal(Number(await raw('PEXPIRETIME', key)), later);
        assert.equal(await raw('HGET', key, 'e'), String(later));
        assert.equal(await raw('HEXISTS', key, 'd:roles'), 0);
        const touched = later + HOUR;
        assert.equal(await store.touch(id, touched), true);
        assert.equal(Number(await raw('PEXPIRETIME', key)), touched);
        await store.destroy(id);
        assert.equal(await raw('EXISTS', key), 0);
      });

      it('clamps expiresAt to now + ttl', async () => {
        const short = new RedisStore({ client: conn.client, prefix, ttl: 60 });
        const id = generateSessionId();
        const before = Date.now();
        assert.equal(await short.create(id, record({ a: 1 }, { ttl: 30 * 24 * HOUR })), true);
        const got = await short.get(id);
        assert.ok(got);
        assert.ok(got.expiresAt >= before + 60_000 && got.expiresAt <= Date.now() + 60_000);
        assert.equal(Number(await raw('PEXPIRETIME', prefix + id)), got.expiresAt);
        assert.equal(await short.touch(id, Date.now() + 30 * 24 * HOUR), true);
        assert.ok(Number(await raw('PTTL', prefix + id)) <= 60_000);
      });

      it('clear() removes only this prefix; the prefix is matched literally, not as a glob', async () => {
        const globPrefix = `${randomPrefix('glob')}*[ab]?\\:`;
        cleanups.push(globPrefix);
        const lookalike = globPrefix.replace('*[ab]?\\', 'XaY\\');
        cleanups.push(lookalike);
        const bare = `${prefix.slice(0, -1)}-foo`;
        cleanups.push(bare);
        const globStore = new RedisStore({ client: conn.client, prefix: globPrefix });
        const mine = generateSessionId();
        const theirs = generateSessionId();
        await globStore.create(mine, record({ mine: true }));
        await raw('SET', lookalike + theirs, 'another app');
        await raw('SET', `${globPrefix}foo`, 'not a session id');
        await raw('SET', bare, 'foo');
        // The literal key `foo` (a prefix-less lookalike of a session key), only if nobody uses it; it expires by itself.
        const marker = randomPrefix('foo');
        const ownFoo = (await raw('SET', 'foo', marker, 'NX', 'PX', '60000')) === 'OK';
        await store.create(generateSessionId(), record({ other: 'prefix' }));

        assert.equal(await globStore.length(), 1);
        const listed = [];
        for await (const [id] of globStore.all()) listed.push(id);
        assert.deepEqual(listed, [mine]);
        await globStore.clear();
        assert.equal(await globStore.get(mine), undefined);
        assert.equal(await raw('GET', lookalike + theirs), 'another app');
        assert.equal(await raw('GET', `${globPrefix}foo`), 'not a session id');
        assert.equal(await raw('GET', bare), 'foo');
        if (ownFoo) {
          assert.equal(await raw('GET', 'foo'), marker);
          await raw('DEL', 'foo');
        }
        assert.ok((await store.length()) >= 1, 'the other store kept its session');
      });

      it('a key of the wrong type reads as no session and is never overwritten', async () => {
        reported.length = 0;
        const id = generateSessionId();
        const key = prefix + id;
        await raw('SET', key, 'plain string');
        assert.equal(await store.get(id), undefined);
        assert.equal(await store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
        assert.equal(await store.touch(id, Date.now() + HOUR), false);
        assert.equal(await store.create(id, record({ a: 1 })), false);
        assert.equal(await raw('GET', key), 'plain string');
        const listId = generateSessionId();
        await raw('RPUSH', prefix + listId, 'x');
        const seen = [];
        for await (const [sid] of store.all()) seen.push(sid);
        assert.ok(!seen.includes(id) && !seen.includes(listId));
        assert.ok(reported.length >= 1, 'the unreadable key was reported to onError');
        await raw('DEL', key, prefix + listId);
      });

      it('a field that is not JSON makes the whole session unreadable (undefined), no crash', async () => {
        reported.length = 0;
        const id = generateSessionId();
        await store.create(id, record({ user: 'ada', mfaPending: true }));
        await raw('HSET', prefix + id, 'd:mfaPending', '{not json');
        assert.equal(await store.get(id), undefined);
        const seen = [];
        for await (const [sid] of store.all()) seen.push(sid);
        assert.ok(!seen.includes(id));
        assert.equal(reported.length, 2);
        assert.doesNotMatch(reported[0]!.message, new RegExp(id));
      });

      it('a hash without valid c/e timestamps, or with e in the past, is no session', async () => {
        const a = generateSessionId();
        await raw('HSET', prefix + a, 'd:user', '"ada"');
        assert.equal(await store.get(a), undefined);
        const b = generateSessionId();
        await raw('HSET', prefix + b, 'c', 'soon', 'e', String(Date.now() + HOUR), 'd:x', '1');
        assert.equal(await store.get(b), undefined);
        assert.equal(await store.update(b, { set: { x: 2 } }, Date.now() + HOUR), false);
        const c = generateSessionId();
        const past = String(Date.now() - 1000);
        await raw('HSET', prefix + c, 'c', past, 'e', past, 'd:x', '1');
        assert.equal(await store.get(c), undefined);
        assert.equal(await store.touch(c, Date.now() + HOUR), false);
        // A dead hash under the id is replaced by create, not merged into.
        assert.equal(await store.create(c, record({ fresh: true })), true);
        assert.deepEqual({ ...(await store.get(c))?.data }, { fresh: true });
        await raw('DEL', prefix + a, prefix + b, prefix + c);
      });

      it('keeps session keys with lone surrogates apart (UTF-8 cannot carry them)', async () => {
        const id = generateSessionId();
        await store.create(id, record({ 'a\ud800': 1, 'a\udc00': 2, plain: 0 }));
        assert.equal(
          await store.update(id, { set: { 'b\ud800': 3 }, unset: ['a\udc00'] }, Date.now() + HOUR),
          true,
        );
        assert.deepEqual(
          { ...(await store.get(id))?.data },
          { 'a\ud800': 1, 'b\ud800': 3, plain: 0 },
        );
      });

      it('SCAN-based listing returns all of 2,000 sessions; length and clear agree', async () => {
        const bulkPrefix = randomPrefix('bulk');
        cleanups.push(bulkPrefix);
        const bulk = new RedisStore({ client: conn.client, prefix: bulkPrefix, scanCount: 100 });
        const ids = Array.from({ length: 2000 }, () => generateSessionId());
        for (let i = 0; i < ids.length; i += 200) {
          await Promise.all(
            ids.slice(i, i + 200).map((id, j) => bulk.create(id, record({ n: i + j }))),
          );
        }
        const seen = new Map<string, number>();
        for await (const [id, rec] of bulk.all()) seen.set(id, rec.data.n as number);
        assert.equal(seen.size, 2000);
        for (const [n, id] of ids.entries()) assert.equal(seen.get(id), n);
        assert.equal(await bulk.length(), 2000);
        await bulk.clear();
        assert.equal(await bulk.length(), 0);
      });

      it('rejects invalid ids before sending any command', async () => {
        let sent = 0;
        const target = conn.client as unknown as Record<string, unknown>;
        const spy =
          flavour.name === 'ioredis'
            ? {
                call: (...args: string[]) => {
                  sent++;
                  return (target.call as (...a: string[]) => Promise<unknown>).apply(target, args);
                },
              }
            : {
                sendCommand: (args: string[]) => {
                  sent++;
                  return (target.sendCommand as (a: string[]) => Promise<unknown>).call(
                    target,
                    args,
                  );
                },
              };
        const spied = new RedisStore({ client: spy, prefix });
        for (const bad of HOSTILE_IDS) {
          const id = bad as string;
          for (const call of [
            () => spied.get(id),
            () => spied.create(id, record({ a: 1 })),
            () => spied.update(id, { set: { a: 1 } }, Date.now() + HOUR),
            () => spied.touch(id, Date.now() + HOUR),
            () => spied.destroy(id),
          ]) {
            await assert.rejects(call, InvalidSessionIdError);
          }
        }
        assert.equal(sent, 0);
        assert.equal(await spied.get(generateSessionId()), undefined);
        assert.equal(sent, 1, 'get is one round trip');
        await spied.update(generateSessionId(), { set: { a: 1 } }, Date.now() + HOUR);
        assert.equal(sent, 2, 'update is one round trip once the script is cached');
      });

      it('uses the promise API of a node-redis v4 client in legacyMode (client.v4)', {
        skip: flavour.name !== 'node-redis' && 'node-redis only',
      }, async () => {
        const legacy = {
          sendCommand: () => {
            throw new Error('the callback API of legacyMode was used');
          },
          v4: conn.client,
        };
        const viaV4 = new RedisStore({ client: legacy as never, prefix });
        const id = generateSessionId();
        assert.equal(await viaV4.create(id, record({ legacy: true })), true);
        assert.equal((await viaV4.get(id))?.data.legacy, true);
      });

      it('close() leaves the application client open', async () => {
        const closing = new RedisStore({ client: conn.client, prefix });
        await closing.close();
        assert.equal(await raw('PING'), 'PONG');
      });
    });
  }

  describe('RedisStore: url option', { timeout: TEST_TIMEOUT }, () => {
    it('creates, uses and closes its own node-redis client', async () => {
      const prefix = randomPrefix('url');
      const store = new RedisStore({ url: REDIS_URL, prefix });
      const id = generateSessionId();
      assert.equal(await store.create(id, record({ via: 'url' })), true);
      assert.equal((await store.get(id))?.data.via, 'url');
      await store.clear();
      await store.close();
      await store.close();
      await assert.rejects(store.get(id), StoreClosedError);
    });

    it('rejects with StoreUnavailableError within commandTimeout when nothing listens', async () => {
      const reported: Error[] = [];
      const store = new RedisStore({
        url: 'redis://127.0.0.1:1',
        commandTimeout: 300,
        onError: (e) => reported.push(e),
      });
      const started = Date.now();
      await assert.rejects(store.get(generateSessionId()), StoreUnavailableError);
      assert.ok(Date.now() - started < 3000, 'fails fast instead of waiting for a connection');
      await assert.rejects(store.get(generateSessionId()), StoreUnavailableError);
      assert.equal(reported.length, 1, 'a connection error is reported once per outage');
      await store.close();
    });
  });
}

describe('RedisStore: options', () => {
  const client = { sendCommand: async () => null };
  const cases: Array<[string, RedisStoreOptions, RegExp]> = [
    ['no client', {}, /exactly one of client .* and url/],
    ['both', { client, url: 'redis://x' }, /exactly one of client/],
    ['bad client', { client: {} as never }, /client must be a node-redis .*, got an object/],
    ['bad url', { url: 'http://x' }, /url must be a string starting with redis:\/\//],
    ['empty prefix', { client, prefix: '' }, /prefix must be a non-empty string .*, got ""$/],
    ['timeout', { client, commandTimeout: 0 }, /commandTimeout must be .*, got 0$/],
    ['timeout NaN', { client, commandTimeout: Number.NaN }, /commandTimeout must be .*, got NaN$/],
    ['scanCount', { client, scanCount: 1.5 }, /scanCount must be .*, got 1.5$/],
    ['ttl', { client, ttl: -1 }, /ttl must be a number of seconds above 0 .*, got -1$/],
    ['onError', { client, onError: 'x' as never }, /onError must be a function, got "x"$/],
  ];
  for (const [name, options, message] of cases) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => new RedisStore(options),
        (e: unknown) =>
          e instanceof InvalidOptionError &&
          e.message.startsWith('session-store-js: ') &&
          message.test(e.message),
      );
    });
  }

  it('accepts a client with defaults', () => {
    const store = new RedisStore({ client });
    assert.equal(store.prefix, 'sess:');
    assert.equal(store.commandTimeout, 2000);
    assert.equal(store.scanCount, 100);
    assert.equal(store.ttl, 86400);
  });
});
