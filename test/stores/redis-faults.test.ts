/**
 * RedisStore under faults, on a private `redis-server` started here on a free loopback port (never
 * the shared one): killed during traffic then restarted, flushed, script cache flushed, and a
 * black-holed link. With node-redis (`disableOfflineQueue: true`) and ioredis
 * (`enableOfflineQueue: false`, `maxRetriesPerRequest: 1`), the client options the README
 * recommends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/redis-store.js';
import { HOUR, record } from '../helpers/records.js';
import {
  canSpawnRedisServer,
  freePort,
  REDIS_REQUIRED,
  RedisServer,
  TcpProxy,
} from '../helpers/redis.js';

const TIMEOUT = 400;
/** How late a rejection may come after the command timeout (event-loop and CI slack). */
const SLACK = 1600;

type Raw = (...args: string[]) => Promise<unknown>;
interface Conn {
  client: NonNullable<RedisStoreOptions['client']>;
  raw: Raw;
  quit(): Promise<void>;
}

/**
 * `connect(url)` resolves once connected; `connect(url, false)` starts connecting and returns at
 * once, as an app does when Redis is down at startup (the client keeps retrying).
 */
const FLAVOURS: Array<{ name: string; connect(url: string, wait?: boolean): Promise<Conn> }> = [
  {
    name: 'node-redis',
    async connect(url, wait = true) {
      const client = createClient({
        url,
        disableOfflineQueue: true,
        socket: { reconnectStrategy: () => 100, connectTimeout: TIMEOUT },
      });
      client.on('error', () => {});
      const connecting = client.connect();
      if (wait) await connecting;
      else connecting.catch(() => {});
      return {
        client,
        raw: (...args) => client.sendCommand(args),
        quit: async () => {
          client.destroy();
        },
      };
    },
  },
  {
    name: 'ioredis',
    async connect(url, wait = true) {
      const client = new Redis(url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 100,
        connectTimeout: TIMEOUT,
        lazyConnect: true,
      });
      client.on('error', () => {});
      const connecting = client.connect();
      if (wait) await connecting;
      else connecting.catch(() => {});
      return {
        client,
        raw: (cmd, ...args) => client.call(cmd, ...args),
        quit: async () => {
          client.disconnect();
        },
      };
    },
  },
];

/** Runs `op` and returns how long it took to settle and how. */
async function timed(op: () => Promise<unknown>): Promise<{ ms: number; error?: unknown }> {
  const started = Date.now();
  try {
    await op();
    return { ms: Date.now() - started };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

function assertFastUnavailable(result: { ms: number; error?: unknown }, what: string): void {
  assert.ok(
    result.error instanceof StoreUnavailableError,
    `${what}: expected StoreUnavailableError, got ${String(result.error)}`,
  );
  assert.equal((result.error as StoreUnavailableError).code, 'STORE_UNAVAILABLE');
  assert.ok(result.ms <= TIMEOUT + SLACK, `${what} took ${result.ms} ms`);
}

/** Every store method, each run once; for asserting how they all behave while Redis is away. */
function everyMethod(store: RedisStore, id: string): Array<[string, () => Promise<unknown>]> {
  return [
    ['get', () => store.get(id)],
    ['create', () => store.create(generateSessionId(), record({ a: 1 }))],
    ['update', () => store.update(id, { set: { a: 2 } }, Date.now() + HOUR)],
    ['touch', () => store.touch(id, Date.now() + HOUR)],
    ['destroy', () => store.destroy(generateSessionId())],
    ['length', () => store.length()],
    ['clear', () => store.clear()],
    [
      'all',
      async () => {
        for await (const _ of store.all());
      },
    ],
  ];
}

/** Polls until `get` answers (Redis back); returns how long that took. */
async function waitForRecovery(store: RedisStore, limitMs = 10_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await store.get(generateSessionId());
      return Date.now() - started;
    } catch (error) {
      assert.ok(error instanceof StoreUnavailableError, `unexpected ${String(error)}`);
      if (Date.now() - started > limitMs) throw new Error(`no recovery within ${limitMs} ms`);
      await sleep(50);
    }
  }
}

const spawnable = await canSpawnRedisServer();
if (!spawnable && REDIS_REQUIRED)
  throw new Error('redis-server is required (CI=true or REQUIRE_REDIS=1)');
const skip = spawnable
  ? undefined
  : 'redis-server is not installed; fault tests need a private one';

for (const flavour of FLAVOURS) {
  describe(`RedisStore faults (${flavour.name})`, { skip, timeout: 30_000 }, () => {
    let server: RedisServer;
    let conn: Conn;
    let store: RedisStore;

    before(async () => {
      server = await RedisServer.start();
      conn = await flavour.connect(server.url);
      store = new RedisStore({ client: conn.client, commandTimeout: TIMEOUT, onError: () => {} });
    });
    after(async () => {
      await store?.close();
      await conn?.quit();
      await server?.stop();
    });

    it('Redis killed during traffic: fast STORE_UNAVAILABLE, then recovery on restart with the same client', async () => {
      const ids = Array.from({ length: 20 }, () => generateSessionId());
      for (const id of ids) assert.equal(await store.create(id, record({ n: 0 })), true);

      // Traffic: 8 workers doing get + update until told to stop.
      let running = true;
      const outcomes: Array<{ ms: number; error?: unknown; at: number }> = [];
      const worker = async (w: number) => {
        for (let i = 0; running; i++) {
          const id = ids[(w * 7 + i) % ids.length]!;
          const op =
            i % 2
              ? () => store.get(id)
              : () => store.update(id, { set: { [`w${w}`]: i } }, Date.now() + HOUR);
          outcomes.push({ ...(await timed(op)), at: Date.now() });
          await sleep(5);
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await sleep(150);
      const killedAt = Date.now();
      await server.stop('SIGKILL');
      await sleep(TIMEOUT * 2 + 200);

      // While down, every method fails fast with the typed error.
      for (const [name, op] of everyMethod(store, ids[0]!)) {
        assertFastUnavailable(await timed(op), name);
      }
      running = false;
      await Promise.all(workers);

      const before = outcomes.filter((o) => o.at < killedAt);
      const after = outcomes.filter((o) => o.at >= killedAt);
      assert.ok(
        before.length > 10 && before.every((o) => !o.error),
        'traffic worked before the kill',
      );
      assert.ok(after.length > 0);
      for (const o of after) {
        if (o.error) assertFastUnavailable(o, 'an operation during the outage');
      }
      assert.ok(
        after.some((o) => o.error),
        'the outage was seen',
      );

      // Restart on the same port: the same store and client recover by themselves.
      await server.restart();
      const recoveredIn = await waitForRecovery(store);
      assert.ok(recoveredIn < 5_000, `recovered in ${recoveredIn} ms`);
      // The new server is empty (no persistence): old ids are gone and never resurrected.
      assert.equal(await store.get(ids[0]!), undefined);
      assert.equal(await store.update(ids[0]!, { set: { a: 1 } }, Date.now() + HOUR), false);
      assert.equal(await store.touch(ids[1]!, Date.now() + HOUR), false);
      assert.equal(await conn.raw('EXISTS', `sess:${ids[0]}`), 0);
      // Writes work again; the empty script cache (NOSCRIPT) is handled by EVAL.
      const fresh = generateSessionId();
      assert.equal(await store.create(fresh, record({ back: true })), true);
      assert.equal(await store.update(fresh, { set: { more: 1 } }, Date.now() + HOUR), true);
      assert.deepEqual({ ...(await store.get(fresh))?.data }, { back: true, more: 1 });
    });

    it('FLUSHALL: old ids read as undefined and writes to them are refused', async () => {
      const id = generateSessionId();
      await store.create(id, record({ user: 'ada' }));
      await conn.raw('FLUSHALL');
      assert.equal(await store.get(id), undefined);
      assert.equal(await store.update(id, { set: { user: 'eve' } }, Date.now() + HOUR), false);
      assert.equal(await store.touch(id, Date.now() + HOUR), false);
      assert.equal(await store.length(), 0);
    });

    it('SCRIPT FLUSH: the scripts are sent again transparently', async () => {
      const id = generateSessionId();
      await store.create(id, record({}));
      await conn.raw('SCRIPT', 'FLUSH');
      assert.equal(await store.update(id, { set: { a: 1 } }, Date.now() + HOUR), true);
      await conn.raw('SCRIPT', 'FLUSH');
      assert.equal(await store.touch(id, Date.now() + HOUR), true);
      await conn.raw('SCRIPT', 'FLUSH');
      assert.equal(await store.create(generateSessionId(), record({})), true);
      assert.equal((await store.get(id))?.data.a, 1);
    });

    it('maxmemory reached with noeviction: writes reject with STORE_WRITE_FAILED, reads still work', async () => {
      const id = generateSessionId();
      await store.create(id, record({ user: 'ada' }));
      await conn.raw('SET', 'filler', 'x'.repeat(3_000_000));
      await conn.raw('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await conn.raw('CONFIG', 'SET', 'maxmemory', '1mb');
      try {
        for (const write of [
          () => store.create(generateSessionId(), record({ a: 1 })),
          () => store.update(id, { set: { more: 'x' } }, Date.now() + HOUR),
          () => store.touch(id, Date.now() + HOUR),
        ]) {
          await assert.rejects(
            write,
            (e: unknown) => e instanceof StoreWriteError && e.code === 'STORE_WRITE_FAILED',
          );
        }
        assert.equal((await store.get(id))?.data.user, 'ada');
        await store.destroy(id);
        assert.equal(await store.get(id), undefined);
      } finally {
        await conn.raw('CONFIG', 'SET', 'maxmemory', '0');
        await conn.raw('DEL', 'filler');
      }
    });

    it('Redis down at startup: construction succeeds, calls fail fast, traffic starts when it comes up', async () => {
      const port = await freePort();
      const early = await flavour.connect(`redis://127.0.0.1:${port}`, false);
      const startup = new RedisStore({ client: early.client, commandTimeout: TIMEOUT });
      let late: RedisServer | undefined;
      try {
        for (const [name, op] of everyMethod(startup, generateSessionId())) {
          assertFastUnavailable(await timed(op), `${name} before Redis started`);
        }
        late = await RedisServer.start({ port });
        await waitForRecovery(startup);
        const id = generateSessionId();
        assert.equal(await startup.create(id, record({ late: true })), true);
        assert.equal((await startup.get(id))?.data.late, true);
      } finally {
        await startup.close();
        await early.quit();
        await late?.stop();
      }
    });

    it('a black-holed connection: the command timeout fires with the typed error, then traffic resumes', async () => {
      const proxy = await TcpProxy.start(server.port);
      const viaProxy = await flavour.connect(proxy.url);
      const proxied = new RedisStore({ client: viaProxy.client, commandTimeout: TIMEOUT });
      try {
        const id = generateSessionId();
        assert.equal(await proxied.create(id, record({ a: 1 })), true);
        proxy.blackhole();
        for (const [name, op] of everyMethod(proxied, id)) {
          const result = await timed(op);
          assertFastUnavailable(result, `${name} through a black hole`);
          assert.ok(
            result.ms >= TIMEOUT - 20,
            `${name} failed before the timeout (${result.ms} ms)`,
          );
        }
        proxy.blackhole(false);
        await waitForRecovery(proxied);
        // The held `update` (a: 2) reaches Redis when the link heals: a write that timed out has
        // an unknown outcome (as with any network store), it was never reported as done.
        assert.ok([1, 2].includes((await proxied.get(id))?.data.a as number));
        assert.equal(await proxied.update(id, { set: { a: 3 } }, Date.now() + HOUR), true);
        assert.equal((await proxied.get(id))?.data.a, 3);
      } finally {
        await proxied.close();
        await viaProxy.quit();
        await proxy.close();
      }
    });
  });
}
