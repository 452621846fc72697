/**
 * The user-index tier's compliance suite: the same behaviour on every store that offers it.
 * A store's test file calls `describeUserIndex(name, factory)`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { SessionManager } from '../../src/index.js';
import {
  type SessionRecord,
  type SessionStore,
  USER_BINDING_KEY,
  type UserIndexStore,
} from '../../src/types.js';

export interface UserIndexFixture {
  store: SessionStore & UserIndexStore;
  /** Index operations the backend has run so far (commands, queries, file calls), if countable. */
  operations?(): number;
  /**
   * When `get` of a bound session gives the user's epoch with the record (`userEpoch`):
   * `'always'`; `'once-known'`, once the store has seen that user's epoch or that session bound
   * (after a raise, every get); `'never'` (the manager then asks `userEpoch`).
   */
  epochWithRecord: 'always' | 'once-known' | 'never';
  cleanup(): Promise<void>;
}

export interface UserIndexSuiteOptions {
  /** Users × 5 sessions for the scale test. Default: 10 000. */
  users?: number;
}

const HOUR = 3_600_000;

function bound(userId: string, ttl = HOUR, extra: Record<string, unknown> = {}): SessionRecord {
  const now = Date.now();
  const data = Object.assign(Object.create(null), extra, {
    [USER_BINDING_KEY]: { id: userId, epoch: 0, meta: { ua: 'test' } },
  });
  return { data, createdAt: now, expiresAt: now + ttl };
}

const ids = (list: [string, SessionRecord][]) => list.map(([id]) => id).sort();
const idsOf = ids;

export function describeUserIndex(
  name: string,
  factory: () => Promise<UserIndexFixture>,
  options: UserIndexSuiteOptions = {},
): void {
  describe(`${name}: user index`, { timeout: 300_000 }, () => {
    const fixtures: UserIndexFixture[] = [];
    after(async () => {
      for (const f of fixtures) {
        await f.store.clear();
        await f.store.close();
        await f.cleanup();
      }
    });
    async function open(): Promise<UserIndexFixture> {
      const f = await factory();
      fixtures.push(f);
      return f;
    }

    it('lists exactly the live sessions bound to a user, with their records', async () => {
      const { store } = await open();
      const a = [generateSessionId(), generateSessionId()];
      const b = generateSessionId();
      for (const id of a) {
        assert.deepEqual(await store.createForUser(id, bound('ann', HOUR, { k: 1 }), 'ann'), {
          status: 'created',
          evicted: 0,
        });
      }
      await store.createForUser(b, bound('ben'), 'ben');
      const plain = generateSessionId();
      await store.create(plain, {
        data: Object.create(null),
        createdAt: 1,
        expiresAt: Date.now() + HOUR,
      });
      const list = await store.listUser('ann');
      assert.deepEqual(ids(list), [...a].sort());
      for (const [, record] of list) {
        assert.equal(record.data.k, 1);
        assert.equal((record.data[USER_BINDING_KEY] as { id: string }).id, 'ann');
      }
      assert.deepEqual(ids(await store.listUser('ben')), [b]);
      assert.deepEqual(await store.listUser('nobody'), []);
      assert.equal((await store.get(a[0]!))?.data.k, 1, 'an ordinary session to get');
    });

    it('loses no session to listings and revocations of others running during logins', async () => {
      const { store } = await open();
      const ids = Array.from({ length: 30 }, () => generateSessionId());
      const listings: Promise<unknown>[] = [];
      const logins = ids.map(async (id, i) => {
        if (i % 3 === 0) listings.push(store.listUser('zoe'), store.destroyUser('zed'));
        return store.createForUser(id, bound('zoe'), 'zoe');
      });
      await Promise.all([...logins, ...listings]);
      assert.deepEqual(idsOf(await store.listUser('zoe')), [...ids].sort());
    });

    it('reports a collision and leaves the existing session alone', async () => {
      const { store } = await open();
      const id = generateSessionId();
      await store.createForUser(id, bound('cat', HOUR, { v: 'first' }), 'cat');
      assert.deepEqual(await store.createForUser(id, bound('dog', HOUR, { v: 'x' }), 'dog'), {
        status: 'collision',
      });
      assert.equal((await store.get(id))?.data.v, 'first');
      assert.deepEqual(await store.listUser('dog'), []);
    });

    it('forgets destroyed and expired sessions without a sweep', async () => {
      const { store } = await open();
      const gone = generateSessionId();
      const short = generateSessionId();
      const kept = generateSessionId();
      await store.createForUser(gone, bound('eve'), 'eve');
      await store.createForUser(short, bound('eve', 300), 'eve');
      await store.createForUser(kept, bound('eve'), 'eve');
      await store.destroy(gone);
      assert.deepEqual(ids(await store.listUser('eve')), [kept, short].sort());
      await sleep(450);
      assert.deepEqual(ids(await store.listUser('eve')), [kept]);
    });

    it('follows renewals: a session touched past its first expiry stays listed', async () => {
      const { store } = await open();
      const touched = generateSessionId();
      const updated = generateSessionId();
      await store.createForUser(touched, bound('fay', 400), 'fay');
      await store.createForUser(updated, bound('fay', 400), 'fay');
      assert.ok(await store.touch(touched, Date.now() + HOUR));
      assert.ok(await store.update(updated, { set: { x: 1 } }, Date.now() + HOUR));
      await sleep(550);
      const list = await store.listUser('fay');
      assert.deepEqual(ids(list), [touched, updated].sort());
      for (const [, record] of list) assert.ok(record.expiresAt > Date.now() + HOUR / 2);
    });

    it('destroys a user’s sessions but the one excepted, and no one else’s', async () => {
      const { store } = await open();
      const mine = Array.from({ length: 4 }, () => generateSessionId());
      for (const id of mine) await store.createForUser(id, bound('gus'), 'gus');
      const other = generateSessionId();
      await store.createForUser(other, bound('hal'), 'hal');
      assert.equal(await store.destroyUser('gus', mine[0]), 3);
      assert.deepEqual(ids(await store.listUser('gus')), [mine[0]!]);
      assert.ok(await store.get(mine[0]!));
      for (const id of mine.slice(1)) assert.equal(await store.get(id), undefined);
      assert.ok(await store.get(other));
      assert.equal(await store.destroyUser('gus'), 1);
      assert.equal(await store.destroyUser('gus'), 0);
      assert.deepEqual(await store.listUser('gus'), []);
    });

    it('keeps an epoch per user that only ever rises', async () => {
      const { store } = await open();
      assert.equal(await store.userEpoch('ida'), 0);
      const t = Date.now();
      assert.equal(await store.raiseUserEpoch('ida', t), t);
      assert.equal(await store.raiseUserEpoch('ida', t - 5), t);
      assert.equal(await store.userEpoch('ida'), t);
      assert.equal(await store.raiseUserEpoch('ida', t + 7), t + 7);
      assert.equal(await store.userEpoch('jon'), 0, 'per user');
    });

    it("a bound record's userEpoch, when get gives one, is the user's epoch at that moment", async () => {
      const { store, epochWithRecord: mode } = await open();
      const id = generateSessionId();
      const plain = generateSessionId();
      assert.equal((await store.createForUser(id, bound('lea'), 'lea')).status, 'created');
      assert.ok(await store.create(plain, { ...bound('lea'), data: Object.create(null) }));
      for (const epoch of [0, Date.now(), Date.now() + 1_000]) {
        if (epoch > 0) await store.raiseUserEpoch('lea', epoch);
        // Twice: a store may attach it only once it has seen the session bound.
        for (let i = 0; i < 2; i++) {
          const record = await store.get(id);
          assert.ok(record);
          const expected =
            mode === 'always' || (mode === 'once-known' && epoch > 0) ? epoch : undefined;
          if (mode === 'once-known' && epoch === 0 && record.userEpoch !== undefined) {
            assert.equal(record.userEpoch, 0);
          } else {
            assert.equal(record.userEpoch, expected, `get ${i + 1} at epoch ${epoch} (${mode})`);
          }
        }
        assert.equal((await store.get(plain))?.userEpoch, undefined, 'an unbound session has none');
      }
    });

    it("caps a user's live sessions: evict-oldest removes the soonest to expire", async () => {
      const { store } = await open();
      const limit = { max: 2, whenFull: 'evict-oldest' } as const;
      const first = generateSessionId();
      const second = generateSessionId();
      const third = generateSessionId();
      await store.createForUser(first, bound('kim', HOUR / 2), 'kim', limit);
      await store.createForUser(second, bound('kim', HOUR), 'kim', limit);
      const dead = generateSessionId();
      await store.createForUser(dead, bound('kim', HOUR), 'kim');
      await store.destroy(dead);
      assert.deepEqual(await store.createForUser(third, bound('kim'), 'kim', limit), {
        status: 'created',
        evicted: 1,
      });
      assert.equal(await store.get(first), undefined);
      assert.deepEqual(ids(await store.listUser('kim')), [second, third].sort());
    });

    it("caps a user's live sessions: reject writes nothing", async () => {
      const { store } = await open();
      const limit = { max: 2, whenFull: 'reject' } as const;
      const kept = [generateSessionId(), generateSessionId()];
      for (const id of kept) await store.createForUser(id, bound('lea'), 'lea', limit);
      const refused = generateSessionId();
      assert.deepEqual(await store.createForUser(refused, bound('lea'), 'lea', limit), {
        status: 'full',
      });
      assert.equal(await store.get(refused), undefined);
      assert.deepEqual(ids(await store.listUser('lea')), [...kept].sort());
      await store.destroy(kept[0]!);
      assert.equal(
        (await store.createForUser(refused, bound('lea'), 'lea', limit)).status,
        'created',
      );
    });

    it('lists and revokes one user among 10,000 × 5 sessions with work for that user only', async () => {
      const fixture = await open();
      const store = fixture.store;
      const users = options.users ?? 10_000;
      const jobs: (() => Promise<unknown>)[] = [];
      for (let u = 0; u < users; u++) {
        for (let s = 0; s < 5; s++) {
          jobs.push(() => store.createForUser(generateSessionId(), bound(`u${u}`), `u${u}`));
        }
      }
      for (let i = 0; i < jobs.length; i += 500) {
        await Promise.all(jobs.slice(i, i + 500).map((job) => job()));
      }
      // The manager's calls, counted on a transparent wrapper of the real store.
      const calls = new Map<string, number>();
      const counted = new Proxy(store, {
        get(target, property) {
          const value = Reflect.get(target, property);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
            return value.apply(target, args);
          };
        },
      });
      const sm = new SessionManager({ store: counted, secret: 'x'.repeat(32) });
      const before = fixture.operations?.() ?? 0;
      const list = await sm.listUserSessions(`u${users >> 1}`);
      assert.equal(list.length, 5);
      assert.equal(await sm.destroyUserSessions(`u${users >> 1}`), 5);
      assert.deepEqual(await sm.listUserSessions(`u${users >> 1}`), []);
      assert.deepEqual(Object.fromEntries(calls), {
        listUser: 2,
        userEpoch: 3,
        raiseUserEpoch: 1,
        destroyUser: 1,
      });
      if (fixture.operations) {
        const used = fixture.operations() - before;
        // Work for one user's 5 sessions, whatever the store holds: far below one per session.
        assert.ok(
          used <= 25 * 5 && used < users,
          `${used} backend operations for 5 sessions of one user among ${users * 5}`,
        );
      }
      assert.equal((await store.listUser(`u${users - 1}`)).length, 5, 'the others untouched');
    });
  });
}
