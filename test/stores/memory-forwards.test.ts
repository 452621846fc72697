/**
 * MemoryStore moves and the forwards they leave: a logout of the old id ends the new session
 * while the forward lasts; a sweep drops forwards that ran out and keeps the live ones; at most
 * `maxSessions` forwards are kept, the oldest going first; a move into a session that is not
 * there finds nothing; at a per-user cap above one, the session that expires first is evicted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { MemoryStore } from '../../src/index.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';

/** Creates a session and moves it to a new id; resolves both ids. */
async function moved(store: MemoryStore, forwardMs: number) {
  const oldId = generateSessionId();
  const newId = generateSessionId();
  await store.create(oldId, record({ user: 'ada' }));
  const now = Date.now();
  const result = await store.move(oldId, newId, {
    keep: true,
    createdAt: now,
    expiresAt: now + HOUR,
    forwardUntil: now + forwardMs,
  });
  assert.equal(result.status, 'moved');
  return { oldId, newId };
}

describe('MemoryStore forwards', () => {
  it('a sweep drops the forwards that ran out and keeps the live one', async () => {
    const store = new MemoryStore({ cleanupInterval: 0 });
    const short = await moved(store, 20);
    const long = await moved(store, HOUR);
    await sleep(40);
    await store.cleanup();
    await store.destroy(short.oldId);
    assert.ok(await store.get(short.newId), 'a forward that ran out is not followed');
    await store.destroy(long.oldId);
    assert.equal(await store.get(long.newId), undefined, 'the live forward is followed');
    await store.close();
  });

  it('keeps at most maxSessions forwards: the oldest is dropped first', async () => {
    const store = new MemoryStore({ cleanupInterval: 0, maxSessions: 2 });
    const first = await moved(store, HOUR);
    const second = await moved(store, HOUR);
    await store.destroy(second.newId);
    const third = await moved(store, HOUR);
    await store.destroy(first.oldId);
    assert.ok(
      await store.get(first.newId),
      "the oldest forward was dropped: the logout doesn't follow it",
    );
    await store.destroy(third.oldId);
    assert.equal(await store.get(third.newId), undefined);
    await store.close();
  });

  it('a move into an existing session that is not there finds nothing and keeps the old one', async () => {
    const store = new MemoryStore({ cleanupInterval: 0 });
    const oldId = generateSessionId();
    await store.create(oldId, record({ user: 'ada' }));
    const now = Date.now();
    const result = await store.move(oldId, generateSessionId(), {
      keep: true,
      createdAt: now,
      expiresAt: now + HOUR,
      forwardUntil: now + HOUR,
      into: 'existing',
    });
    assert.equal(result.status, 'missing');
    assert.equal((await store.get(oldId))?.data.user, 'ada');
    await store.close();
  });
});

describe('MemoryStore per-user cap above one', () => {
  it('a third login at a cap of two evicts the session that expires first', async () => {
    const store = new MemoryStore({ cleanupInterval: 0 });
    const bound = (ttl: number) => record({ [USER_BINDING_KEY]: { id: 'ada', epoch: 0 } }, { ttl });
    const limit = { max: 2, whenFull: 'evict-oldest' as const };
    const [later, soon, newest] = [generateSessionId(), generateSessionId(), generateSessionId()];
    await store.createForUser(later, bound(2 * HOUR), 'ada', limit);
    await store.createForUser(soon, bound(HOUR), 'ada', limit);
    assert.deepEqual(await store.createForUser(newest, bound(3 * HOUR), 'ada', limit), {
      status: 'created',
      evicted: 1,
    });
    assert.equal(await store.get(soon), undefined);
    assert.deepEqual(
      (await store.listUser('ada')).map(([id]) => id).sort(),
      [later, newest].sort(),
    );
    await store.close();
  });
});
