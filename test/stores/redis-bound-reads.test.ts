/**
 * RedisStore loads a session bound to a user together with the user's epoch, in one round trip, on
 * one Redis (node-redis and ioredis): every command the store sends is recorded, so the tests see
 * what a load costs, that an unbound session still costs one `HGETALL`, and that the epoch read
 * with the record is the current one (a raise by another process is seen on the next load).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSessionId } from '../../src/id.js';
import { SessionManager } from '../../src/index.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { Client } from '../helpers/http.js';
import { record } from '../helpers/records.js';
import {
  deleteKeys,
  type RecordingConnection,
  randomPrefix,
  recordingConnection,
  redisSkipReason,
} from '../helpers/redis.js';
import { afterFile } from '../helpers/serve.js';
import { startApp } from './user-sessions-http.js';

const skip = await redisSkipReason();

const bound = (user: string) => record({ n: 1, [USER_BINDING_KEY]: { id: user, epoch: 0 } });

if (skip) {
  describe('RedisStore bound loads', { skip }, () => {
    it('needs a Redis server', () => {});
  });
} else {
  for (const flavour of ['node-redis', 'ioredis'] as const) {
    describe(`RedisStore (${flavour}): a bound session's load`, () => {
      let conn: RecordingConnection;
      let prefix: string;
      let store: RedisStore;
      const errors: Error[] = [];
      before(async () => {
        conn = await recordingConnection(flavour);
        prefix = randomPrefix(`bound-${flavour}`);
        store = new RedisStore({ client: conn.client, prefix, onError: (e) => errors.push(e) });
      });
      after(async () => {
        await deleteKeys(conn.raw, prefix);
        await conn.quit();
      });

      it('reads the epoch and the record in one round trip, and sees a raise on the next load', async () => {
        const id = generateSessionId();
        await store.createForUser(id, bound('ann'), 'ann');
        conn.take();
        conn.peak();
        const first = await store.get(id);
        assert.deepEqual(conn.take(), ['GET', 'HGETALL'], 'the epoch first');
        assert.equal(conn.peak(), 2, 'both sent before either reply');
        assert.equal(first?.userEpoch, 0);
        assert.equal(first?.data.n, 1);
        await store.raiseUserEpoch('ann', 1_700_000_000_123);
        conn.take();
        assert.equal((await store.get(id))?.userEpoch, 1_700_000_000_123);
        assert.deepEqual(conn.take(), ['GET', 'HGETALL']);
      });

      it('an unbound session is still one HGETALL, without an epoch', async () => {
        const id = generateSessionId();
        await store.create(id, record({ n: 2 }));
        conn.take();
        const loaded = await store.get(id);
        assert.deepEqual(conn.take(), ['HGETALL']);
        assert.equal(loaded?.data.n, 2);
        assert.equal('userEpoch' in (loaded ?? {}), false);
      });

      it('a bound session another process created costs a second round trip once', async () => {
        const id = generateSessionId();
        const other = new RedisStore({ client: conn.client, prefix });
        await other.createForUser(id, bound('bea'), 'bea');
        await other.raiseUserEpoch('bea', 42);
        conn.take();
        const first = await store.get(id);
        assert.deepEqual(conn.take(), ['HGETALL'], 'not known yet: the manager reads the epoch');
        assert.equal(first?.userEpoch, undefined);
        conn.peak();
        const second = await store.get(id);
        assert.deepEqual(conn.take(), ['GET', 'HGETALL']);
        assert.equal(conn.peak(), 2);
        assert.equal(second?.userEpoch, 42);
      });

      it('an epoch key holding no number reads as 0, as userEpoch reads it', async () => {
        const id = generateSessionId();
        await store.createForUser(id, bound('cid'), 'cid');
        await store.raiseUserEpoch('cid', 5);
        const key = await epochKeyOf(conn, store, id);
        await conn.raw('SET', key, 'not a number');
        assert.equal((await store.get(id))?.userEpoch, 0);
        assert.equal(await store.userEpoch('cid'), 0);
      });

      it('an epoch key of another type leaves the epoch to userEpoch, which fails clearly', async () => {
        const id = generateSessionId();
        await store.createForUser(id, bound('dot'), 'dot');
        const key = await epochKeyOf(conn, store, id);
        await conn.raw('HSET', key, 'x', '1');
        const loaded = await store.get(id);
        assert.equal(loaded?.data.n, 1, 'the session itself still loads');
        assert.equal(loaded?.userEpoch, undefined);
        await assert.rejects(store.userEpoch('dot'), { code: 'STORE_UNAVAILABLE' });
      });

      it('a session key replaced by another type reads as no session and is reported', async () => {
        const id = generateSessionId();
        await store.createForUser(id, bound('eve'), 'eve');
        await conn.raw('DEL', prefix + id);
        await conn.raw('SET', prefix + id, 'planted');
        errors.length = 0;
        assert.equal(await store.get(id), undefined);
        assert.match(errors[0]?.message ?? '', /is not a hash/);
      });

      it('a destroyed or rebound session gets no epoch it does not own', async () => {
        const gone = generateSessionId();
        await store.createForUser(gone, bound('fay'), 'fay');
        await store.destroy(gone);
        assert.equal(await store.get(gone), undefined);

        const moved = generateSessionId();
        await store.createForUser(moved, bound('gus'), 'gus');
        await store.raiseUserEpoch('gus', 99);
        // Rewritten behind the store's back to name another user: the epoch read with it is
        // gus's, so it is not handed over; the manager reads hal's itself.
        const binding = JSON.stringify({ id: 'hal', epoch: 0 });
        await conn.raw('HSET', prefix + moved, `d:${USER_BINDING_KEY}`, binding);
        const loaded = await store.get(moved);
        assert.equal(loaded?.userEpoch, undefined);
        assert.equal((await store.get(moved))?.userEpoch, 0, "then hal's own epoch");

        const missing = generateSessionId();
        await store.createForUser(missing, bound('ida'), 'ida');
        await conn.raw('DEL', prefix + missing);
        assert.equal(await store.get(missing), undefined);
        conn.take();
        assert.equal(await store.get(missing), undefined);
        assert.deepEqual(conn.take(), ['HGETALL'], 'a session gone is forgotten');
      });
    });
  }

  describe('RedisStore over HTTP: a signed-in request is one round trip to load', () => {
    it('and a revocation from another process refuses a session the index missed', async () => {
      const mine = await recordingConnection('node-redis');
      const theirs = await recordingConnection('node-redis');
      const prefix = randomPrefix('bound-http');
      const { base, sm, listening } = await startApp(
        new RedisStore({ client: mine.client, prefix }),
      );
      const admin = new SessionManager({
        store: new RedisStore({ client: theirs.client, prefix }),
        secret: 'the admin process secret, long enough for production',
      });
      afterFile(async () => {
        await listening.close();
        await sm.close();
        await admin.close();
        await deleteKeys(mine.raw, prefix);
        await mine.quit();
        await theirs.quit();
      });
      const phone = new Client(base);
      assert.equal((await phone.request('/login/jo', { method: 'POST' })).status, 200);
      mine.take();
      assert.deepEqual((await phone.get('/me')).json(), { user: 'jo', n: 0 });
      assert.deepEqual(mine.take(), ['GET', 'HGETALL', 'EVALSHA'], 'the load, then the write');
      // Out of the index (as a login racing the revocation would be): only the epoch can end it.
      const idx = (await mine.raw('KEYS', `${prefix}u:*`)) as string[];
      assert.equal(idx.length, 1);
      await mine.raw('DEL', idx[0]!);
      assert.equal(await admin.destroyUserSessions('jo'), 0, 'the index listed nothing');
      assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
    });
  });
}

/** The epoch key the store reads for the bound session `id` (its index key, `u` → `ue`). */
async function epochKeyOf(
  conn: RecordingConnection,
  store: RedisStore,
  id: string,
): Promise<string> {
  const idx = String(await conn.raw('HGET', store.prefix + id, 'u'));
  return idx.replace(`${store.prefix}u:`, `${store.prefix}ue:`);
}
