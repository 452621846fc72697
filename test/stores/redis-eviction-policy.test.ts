/**
 * When RedisStore reads `maxmemory-policy`: at the first question, again a minute after an
 * answer (a policy changed with `CONFIG SET`), a second after a failed read; never waited for,
 * and never two reads at once. Driven with a commander whose replies the test hands out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisCommander } from '../../src/stores/redis/client.js';
import { EvictionPolicy } from '../../src/stores/redis/eviction-policy.js';

function commander() {
  const pending: { resolve(reply: unknown): void; reject(error: Error): void }[] = [];
  const cmd: RedisCommander = {
    send: (_key, args) => {
      assert.deepEqual(args, ['CONFIG', 'GET', 'maxmemory-policy']);
      return new Promise((resolve, reject) => pending.push({ resolve, reject }));
    },
    masters: async () => [],
    cluster: false,
  };
  return { cmd, pending };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RedisStore eviction policy reads', () => {
  it('answers no until a reply says noeviction, then yes; reads again a minute later', async () => {
    const { cmd, pending } = commander();
    const policy = new EvictionPolicy();
    assert.equal(policy.neverEvicts(cmd, 1_000), false, 'not known yet');
    assert.equal(policy.neverEvicts(cmd, 1_001), false);
    assert.equal(pending.length, 1, 'one read at a time');
    pending.shift()!.resolve(['maxmemory-policy', 'noeviction']);
    await settle();
    assert.equal(policy.neverEvicts(cmd, 60_999), true);
    assert.equal(pending.length, 0, 'within the minute: no read');
    assert.equal(policy.neverEvicts(cmd, 61_000), true, 'the old answer while the new one is out');
    assert.equal(pending.length, 1);
    pending.shift()!.resolve({ 'maxmemory-policy': 'allkeys-lru' });
    await settle();
    assert.equal(policy.neverEvicts(cmd, 61_001), false, 'a map reply (RESP3) read the same');
  });

  it('a failed read answers no and is tried again a second later', async () => {
    const { cmd, pending } = commander();
    const policy = new EvictionPolicy();
    policy.neverEvicts(cmd, 0);
    pending.shift()!.reject(new Error("ERR unknown command 'CONFIG'"));
    await settle();
    assert.equal(policy.neverEvicts(cmd, 999), false);
    assert.equal(pending.length, 0);
    policy.neverEvicts(cmd, 1_000);
    assert.equal(pending.length, 1, 'retried');
    pending.shift()!.resolve(['maxmemory-policy', 'noeviction']);
    await settle();
    assert.equal(policy.neverEvicts(cmd, 1_001), true);
  });

  it('a reply that names no policy answers no', async () => {
    const { cmd, pending } = commander();
    const policy = new EvictionPolicy();
    policy.neverEvicts(cmd, 0);
    pending.shift()!.resolve([]);
    await settle();
    assert.equal(policy.neverEvicts(cmd, 1), false);
  });
});
