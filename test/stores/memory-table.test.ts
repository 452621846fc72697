/**
 * MemoryStore's table: sessions kept in typed arrays under packed ids, with a hash index that
 * grows, deletes without tombstones and compacts. Asserted through the store's public API: every
 * id of every accepted shape finds its own session and no other, through growth, churn,
 * compaction and streams.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generateSessionId } from '../../src/id.js';
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { HOUR, record } from '../helpers/records.js';

/** V8's collector, to see what memory a compaction gave back. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Bytes held in ArrayBuffers once the collector has run and freed what it found (V8 frees the
 * memory of dead buffers after the collection, on another thread: a few rounds until it is stable).
 */
async function settledArrayBuffers(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 50; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const now = process.memoryUsage().arrayBuffers;
    if (now === last) return now;
    last = now;
  }
  return last;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The data of `id`, as a plain object (the store hands out null-prototype ones). */
async function dataOf(
  store: MemoryStore,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  const found = await store.get(id);
  return found && { ...found.data };
}

function quietStore(maxSessions = 1_000_000): MemoryStore {
  return new MemoryStore({ cleanupInterval: 0, indexInterval: 0, maxSessions });
}

async function streamed(store: MemoryStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const [id] of store.all()) ids.push(id);
  return ids;
}

/** A deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('MemoryStore table: ids', () => {
  it('every accepted length (22 to 64) and every character keeps its own session', async () => {
    const store = quietStore();
    const ids: string[] = [];
    for (let length = 22; length <= 64; length++) {
      // Each id uses characters from all over the alphabet, '-' and '_' included.
      let id = '';
      for (let i = 0; i < length; i++) id += ALPHABET[(i * 7 + length) % 64];
      ids.push(id);
      // Ids that differ from it only at the end, or only by length.
      ids.push(`${id.slice(0, -1)}${id.endsWith('_') ? '-' : '_'}`);
      if (length < 64) ids.push(`${id}A`);
    }
    ids.push('A'.repeat(22), 'A'.repeat(23), 'A'.repeat(64), '_'.repeat(64), '-'.repeat(30));
    const unique = [...new Set(ids)];
    for (const [i, id] of unique.entries()) {
      assert.equal(await store.create(id, record({ i, id })), true, id);
    }
    for (const [i, id] of unique.entries()) {
      assert.deepEqual(await dataOf(store, id), { i, id }, id);
    }
    assert.deepEqual((await streamed(store)).sort(), [...unique].sort());
    assert.equal(await store.get('A'.repeat(24)), undefined);
    assert.equal(await store.get('B'.repeat(22)), undefined);
    await store.close();
  });

  it('a reused place holds nothing of the session that had it', async () => {
    const store = quietStore();
    const first = generateSessionId();
    await store.create(first, record({ secret: 'of the first user', more: [1, 2], x: 1 }));
    await store.destroy(first);
    const second = generateSessionId();
    await store.create(second, record({}));
    assert.deepEqual(await dataOf(store, second), {});
    await store.update(second, { set: { y: 2 } }, Date.now() + HOUR);
    assert.deepEqual(await dataOf(store, second), { y: 2 });
    assert.equal(await store.get(first), undefined);
    await store.close();
  });
});

describe('MemoryStore table: ids outside the table', () => {
  it("destroyUser's excepted id spares only the session of exactly that id", async () => {
    const store = quietStore();
    const id = 'A'.repeat(32);
    assert.equal((await store.createForUser(id, record({}), 'u1')).status, 'created');
    // Not a session id: packed, its last character would read as 'A'.
    assert.equal(await store.destroyUser('u1', `${'A'.repeat(31)}\u00e9`), 1);
    assert.equal(await store.get(id), undefined);
    await store.close();
  });
});

describe('MemoryStore table: growth and churn', () => {
  it('20,000 random creates and destroys: each live id reads its own data, each gone one misses', async () => {
    const store = quietStore();
    const random = lcg(42);
    const model = new Map<string, number>();
    const gone: string[] = [];
    for (let n = 0; n < 20_000; n++) {
      const live = [...model.keys()];
      if (live.length > 0 && random() < 0.4) {
        const id = live[Math.floor(random() * live.length)]!;
        await store.destroy(id);
        model.delete(id);
        gone.push(id);
      } else {
        const id = generateSessionId();
        await store.create(id, record({ n }));
        model.set(id, n);
      }
    }
    assert.equal(await store.length(), model.size);
    for (const [id, n] of model) assert.deepEqual(await dataOf(store, id), { n }, id);
    for (const id of gone) assert.equal(await store.get(id), undefined, id);
    assert.deepEqual((await streamed(store)).sort(), [...model.keys()].sort());
    await store.close();
  });
});

describe('MemoryStore table: compaction', () => {
  it('rebuildIndex() after a mass deletion gives the memory back and keeps every survivor', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore();
    const now = Date.now();
    const kept: string[] = [];
    const all: string[] = [];
    for (let i = 0; i < 50_000; i++) {
      const id = generateSessionId();
      all.push(id);
      const stays = i % 500 === 0;
      if (stays) kept.push(id);
      await store.create(id, record({ i }, { expiresAt: stays ? now + HOUR + i : now + 1000 }));
    }
    t.mock.timers.tick(2000);
    assert.equal(await store.cleanup(), 50_000 - kept.length);
    const before = await settledArrayBuffers();
    store.rebuildIndex();
    const after = await settledArrayBuffers();
    // 65,536 places of ~90 bytes in typed arrays go back, down to a table for 100.
    assert.ok(before - after > 3_000_000, `${before} → ${after} bytes of ArrayBuffers`);
    assert.equal(await store.length(), kept.length);
    for (const id of kept) {
      assert.deepEqual(await dataOf(store, id), { i: all.indexOf(id) }, id);
    }
    // The index was rebuilt with them: each expires at its own time, the first first.
    t.mock.timers.setTime(now + HOUR + 500 * 50);
    assert.equal(await store.cleanup(), 51);
    assert.equal(await store.length(), kept.length - 51);
    const added = generateSessionId();
    await store.create(added, record({ added: true }));
    assert.deepEqual(await dataOf(store, added), { added: true });
    await store.close();
  });

  it('no compaction under a running stream: it still yields every session exactly once', async () => {
    const store = quietStore();
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = generateSessionId();
      ids.add(id);
      await store.create(id, record({ i }));
    }
    const seen: string[] = [];
    let deleted = false;
    for await (const [id] of store.all()) {
      seen.push(id);
      if (!deleted) {
        deleted = true;
        // Delete all but ~10 % of the ones not streamed yet, then ask for a compaction.
        let n = 0;
        for (const other of ids) {
          if (other !== id && n++ % 10 !== 0) {
            await store.destroy(other);
            ids.delete(other);
          }
        }
        store.rebuildIndex();
      }
    }
    assert.equal(new Set(seen).size, seen.length, 'a session streamed twice');
    assert.deepEqual(new Set(seen), ids);
    // Once the stream is over, the same call compacts and loses nothing.
    store.rebuildIndex();
    assert.deepEqual(new Set(await streamed(store)), ids);
    await store.close();
  });

  it('clear() ends a running stream', async () => {
    const store = quietStore();
    for (let i = 0; i < 100; i++) await store.create(generateSessionId(), record({ i }));
    let seen = 0;
    for await (const _ of store.all()) {
      if (++seen === 10) {
        await store.clear();
        await store.create(generateSessionId(), record({ after: true }));
      }
    }
    assert.equal(seen, 10);
    assert.equal(await store.length(), 1);
    await store.close();
  });
});
