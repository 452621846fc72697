/**
 * RedisStore loads a session bound to a user with one `HGETALL` and no epoch read, on one Redis
 * that never evicts keys, and only for a session created through the user index (whose creation
 * checked the epoch). Everywhere the index could have missed a session (a bound session stored
 * by plain `create`, a policy that evicts, `CONFIG` refused, a binding rewritten to another user)
 * the manager reads the epoch and a revocation still refuses it. Each case runs on a private
 * `redis-server` whose `maxmemory-policy` the test sets; every command the store sends is
 * recorded, so the tests see what a load costs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { SessionManager } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import {
  type CreateForUserResult,
  type SessionRecord,
  USER_BINDING_KEY,
  type UserSessionLimit,
} from '../../src/types.js';
import { Client } from '../helpers/http.js';
import { record } from '../helpers/records.js';
import {
  canSpawnRedisServer,
  REDIS_REQUIRED,
  type RecordingConnection,
  RedisServer,
  randomPrefix,
  recordingConnection,
} from '../helpers/redis.js';
import { startApp } from './user-sessions-http.js';

const skip = (await canSpawnRedisServer())
  ? undefined
  : 'no redis-server binary to start a private Redis with a chosen maxmemory-policy';
if (skip && REDIS_REQUIRED) throw new Error(`Redis is required here, but ${skip}`);

const bound = (user: string, epoch = 0) =>
  record({ n: 1, [USER_BINDING_KEY]: { id: user, epoch } });

/** Loads `id` until the store has read the eviction policy (its first loads can't vouch yet). */
async function loadSettled(store: RedisStore, id: string): Promise<SessionRecord | undefined> {
  let loaded = await store.get(id);
  for (let i = 0; i < 100 && loaded?.userCurrent !== true; i++) {
    await sleep(10);
    loaded = await store.get(id);
  }
  return loaded;
}

/** An app over a recorded RedisStore (or `Store`) on the Redis at `url`; closed after `run`. */
async function onApp(
  url: string,
  run: (app: {
    base: string;
    sm: SessionManager;
    conn: RecordingConnection;
    prefix: string;
  }) => Promise<void>,
  Store: typeof RedisStore = RedisStore,
): Promise<void> {
  const conn = await recordingConnection('node-redis', url);
  const prefix = randomPrefix('bound-http');
  const { base, sm, listening } = await startApp(new Store({ client: conn.client, prefix }));
  try {
    await run({ base, sm, conn, prefix });
  } finally {
    await listening.close();
    await sm.close();
    await conn.quit();
  }
}

/**
 * Signs `device` in as `user` (then runs `between`), loads once so the store has read the
 * policy, and resolves the commands of the next request (it counts `n` 0 → 1).
 */
async function signedInLoad(
  device: Client,
  conn: RecordingConnection,
  user: string,
  between?: () => Promise<void>,
): Promise<string[]> {
  assert.equal((await device.request(`/login/${user}`, { method: 'POST' })).status, 200);
  await between?.();
  await device.get('/me');
  await sleep(50);
  conn.take();
  assert.deepEqual((await device.get('/me')).json(), { user, n: 1 });
  return conn.take();
}

if (skip) {
  describe('RedisStore bound loads', { skip }, () => {
    it('needs a private redis-server', () => {});
  });
} else {
  describe('RedisStore bound loads, on a Redis that never evicts', () => {
    let server: RedisServer;
    before(async () => {
      server = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction'] });
    });
    after(() => server.stop());

    for (const flavour of ['node-redis', 'ioredis'] as const) {
      describe(flavour, () => {
        let conn: RecordingConnection;
        let store: RedisStore;
        const errors: Error[] = [];
        before(async () => {
          conn = await recordingConnection(flavour, server.url);
          const prefix = randomPrefix(`bound-${flavour}`);
          store = new RedisStore({ client: conn.client, prefix, onError: (e) => errors.push(e) });
        });
        after(() => conn.quit());

        it('a session created through the index loads with one HGETALL, vouched for', async () => {
          const id = generateSessionId();
          await store.createForUser(id, bound('ann'), 'ann');
          assert.equal((await loadSettled(store, id))?.userCurrent, true);
          conn.take();
          const loaded = await store.get(id);
          assert.deepEqual(conn.take(), ['HGETALL'], 'no epoch read');
          assert.equal(loaded?.userCurrent, true);
          assert.equal(loaded?.userEpoch, undefined);
          assert.equal(loaded?.data.n, 1);
        });

        it('a binding is parsed once and shared frozen; a listing gives the app its own meta', async () => {
          const data = { [USER_BINDING_KEY]: { id: 'ivy', epoch: 0, meta: { ua: 'phone' } } };
          const ids = [generateSessionId(), generateSessionId()];
          for (const id of ids) await store.createForUser(id, record(data), 'ivy');
          const [a, b] = await Promise.all(ids.map((id) => store.get(id)));
          const binding = a?.data[USER_BINDING_KEY];
          assert.deepEqual(binding, data[USER_BINDING_KEY]);
          assert.equal(b?.data[USER_BINDING_KEY], binding, 'one parsed value for the same text');
          assert.ok(
            Object.isFrozen(binding) && Object.isFrozen((binding as { meta: object }).meta),
          );
          const sm = new SessionManager({
            store,
            secret: 'a secret long enough for production use',
          });
          const listed = await sm.listUserSessions('ivy');
          assert.equal(listed.length, 2);
          for (const entry of listed) {
            assert.deepEqual(entry.meta, { ua: 'phone' });
            (entry.meta as Record<string, unknown>).seen = true;
          }
          assert.deepEqual(
            (await store.get(ids[0]!))?.data[USER_BINDING_KEY],
            data[USER_BINDING_KEY],
          );
        });

        it('a login whose binding the epoch has passed stores nothing (revoked)', async () => {
          await store.raiseUserEpoch('bea', 5_000);
          const late = generateSessionId();
          assert.deepEqual(await store.createForUser(late, bound('bea', 4_999), 'bea'), {
            status: 'revoked',
          });
          assert.equal(await store.get(late), undefined);
          assert.deepEqual(await store.listUser('bea'), []);
          const current = generateSessionId();
          assert.equal(
            (await store.createForUser(current, bound('bea', 5_000), 'bea')).status,
            'created',
          );
          assert.equal((await loadSettled(store, current))?.userCurrent, true);
        });

        it('a bound session stored by plain create (in no index) is not vouched for', async () => {
          const id = generateSessionId();
          assert.equal(await store.create(id, bound('cid')), true);
          await loadSettled(store, generateSessionId());
          const loaded = await store.get(id);
          assert.equal(loaded?.userCurrent, undefined);
          assert.equal(loaded?.data.n, 1);
        });

        it('a binding rewritten to name another user than its index is not vouched for', async () => {
          const id = generateSessionId();
          await store.createForUser(id, bound('gus'), 'gus');
          assert.equal((await loadSettled(store, id))?.userCurrent, true);
          const binding = JSON.stringify({ id: 'hal', epoch: 0 });
          await conn.raw('HSET', store.prefix + id, `d:${USER_BINDING_KEY}`, binding);
          assert.equal((await store.get(id))?.userCurrent, undefined);
        });

        it('an unbound session is one HGETALL and never vouched for', async () => {
          const id = generateSessionId();
          await store.create(id, record({ n: 2 }));
          conn.take();
          const loaded = await store.get(id);
          assert.deepEqual(conn.take(), ['HGETALL']);
          assert.equal(loaded?.data.n, 2);
          assert.equal(loaded?.userCurrent, undefined);
        });

        it('an epoch key holding no number reads as 0', async () => {
          await store.raiseUserEpoch('dot', 5);
          const id = generateSessionId();
          await store.createForUser(id, bound('dot', 5), 'dot');
          const idx = String(await conn.raw('HGET', store.prefix + id, 'u'));
          await conn.raw('SET', idx.replace(`${store.prefix}u:`, `${store.prefix}ue:`), 'x');
          assert.equal(await store.userEpoch('dot'), 0);
        });

        it('an epoch key of another type fails a login and the epoch read clearly, storing nothing', async () => {
          const first = generateSessionId();
          await store.createForUser(first, bound('fox'), 'fox');
          const idx = String(await conn.raw('HGET', store.prefix + first, 'u'));
          await conn.raw('HSET', idx.replace(`${store.prefix}u:`, `${store.prefix}ue:`), 'x', '1');
          const late = generateSessionId();
          await assert.rejects(store.createForUser(late, bound('fox'), 'fox'), {
            code: 'STORE_UNAVAILABLE',
          });
          assert.equal(await store.get(late), undefined);
          await assert.rejects(store.userEpoch('fox'), { code: 'STORE_UNAVAILABLE' });
          assert.equal(
            (await store.get(first))?.data.n,
            1,
            'the session already there still loads',
          );
        });

        it('a session key replaced by another type reads as no session and is reported', async () => {
          const id = generateSessionId();
          await store.createForUser(id, bound('eve'), 'eve');
          await conn.raw('DEL', store.prefix + id);
          await conn.raw('SET', store.prefix + id, 'planted');
          errors.length = 0;
          assert.equal(await store.get(id), undefined);
          assert.match(errors[0]?.message ?? '', /is not a hash/);
        });
      });
    }

    it('over HTTP: a signed-in request is one HGETALL to load, and log out everywhere ends the others', async () => {
      await onApp(server.url, async ({ base, conn }) => {
        const phone = new Client(base);
        const laptop = new Client(base);
        assert.deepEqual(await signedInLoad(phone, conn, 'jo'), ['HGETALL', 'EVALSHA']);
        assert.equal((await laptop.request('/login/jo', { method: 'POST' })).status, 200);
        const res = await laptop.request('/logout-others', { method: 'POST' });
        assert.deepEqual(res.json(), { count: 1 });
        assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
        assert.deepEqual((await laptop.get('/me')).json(), { user: 'jo', n: 0 });
      });
    });

    it('over HTTP: a login that loses a race with a revocation ends signed out', async () => {
      /** Revokes the user between the login's epoch read and its creation: the race, staged. */
      class RacedStore extends RedisStore {
        override async createForUser(
          id: string,
          rec: SessionRecord,
          userId: string,
          limit?: UserSessionLimit,
        ): Promise<CreateForUserResult> {
          await this.raiseUserEpoch(userId, Date.now() + 60_000);
          return super.createForUser(id, rec, userId, limit);
        }
      }
      await onApp(
        server.url,
        async ({ base, sm }) => {
          const phone = new Client(base);
          const login = await phone.request('/login/kay', { method: 'POST' });
          assert.equal(login.status, 409, 'regenerate rejects: the revocation came first');
          assert.equal(login.json<{ code: string }>().code, 'SESSION_DESTROYED');
          assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
          assert.deepEqual(await sm.listUserSessions('kay'), []);
        },
        RacedStore,
      );
    });

    it('over HTTP: a bound session the index lacks reads the epoch and a revocation ends it', async () => {
      await onApp(server.url, async ({ base, sm, conn, prefix }) => {
        const phone = new Client(base);
        // The session copied by a plain write, out of every index (as an import would leave it).
        const unindex = async () => {
          const [key] = (await conn.raw('KEYS', `${prefix}u:*`)) as string[];
          const [member] = (await conn.raw('ZRANGE', key!, '0', '-1')) as string[];
          await conn.raw('HDEL', member!, 'u');
          await conn.raw('DEL', key!);
        };
        const load = await signedInLoad(phone, conn, 'lu', unindex);
        assert.deepEqual(load.slice(0, 2), ['HGETALL', 'GET'], 'the epoch is read');
        assert.equal(await sm.destroyUserSessions('lu'), 0, 'the index listed nothing');
        assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
      });
    });
  });

  describe('RedisStore bound loads where the index could be lost', () => {
    it('under an evicting policy, a revocation refuses a session whose index was evicted', async () => {
      const server = await RedisServer.start({ args: ['--maxmemory-policy', 'allkeys-lru'] });
      try {
        await onApp(server.url, async ({ base, sm, conn, prefix }) => {
          const phone = new Client(base);
          const load = await signedInLoad(phone, conn, 'mo');
          assert.deepEqual(load.slice(0, 2), ['HGETALL', 'GET'], 'the epoch is read');
          // What an eviction would do: the index goes, its session stays.
          const [key] = (await conn.raw('KEYS', `${prefix}u:*`)) as string[];
          await conn.raw('DEL', key!);
          assert.equal(await sm.destroyUserSessions('mo'), 0, 'the index listed nothing');
          assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
        });
      } finally {
        await server.stop();
      }
    });

    it('when CONFIG is refused (as on some managed services), no load is vouched for', async () => {
      const server = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction'] });
      const conn = await recordingConnection('node-redis', server.url);
      const send = (conn.client as { sendCommand(args: string[]): Promise<unknown> }).sendCommand;
      let asked = 0;
      const client = {
        sendCommand: (args: string[]) => {
          if (args[0] !== 'CONFIG') return send(args);
          asked++;
          const refusal = new Error("ERR unknown command 'CONFIG'");
          return Promise.reject(Object.assign(refusal, { name: 'ErrorReply' }));
        },
      };
      try {
        const store = new RedisStore({ client, prefix: randomPrefix('bound-noconfig') });
        const id = generateSessionId();
        await store.createForUser(id, bound('ned'), 'ned');
        for (let i = 0; i < 5; i++) {
          assert.equal((await store.get(id))?.userCurrent, undefined);
          await sleep(10);
        }
        assert.ok(asked >= 1, 'it asked');
      } finally {
        await conn.quit();
        await server.stop();
      }
    });
  });
}
