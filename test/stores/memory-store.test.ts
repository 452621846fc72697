/**
 * MemoryStore-specific behaviour (the store contract itself is asserted by the compliance suite in
 * test/stores/memory.test.ts): cleanup and index timers, the expiration index, maxSessions,
 * option validation, unref'd timers, the maxAge clamp and a 100,000-session sweep.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { InvalidOptionError, StoreFullError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { MemoryStore, type MemoryStoreOptions } from '../../src/stores/memory/memory-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';
import { assertRefused } from '../helpers/refusal.js';

/** A store without background timers (the tests drive cleanup themselves). */
function quietStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore({ cleanupInterval: 0, indexInterval: 0, ...options });
}

async function liveIds(store: MemoryStore): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const [id] of store.all()) ids.add(id);
  return ids;
}

/** Counts calls of the store's cleanup()/rebuildIndex() made by its timers. */
function countTimerWork(store: MemoryStore): { cleanups: number; rebuilds: number } {
  const counts = { cleanups: 0, rebuilds: 0 };
  store.cleanup = () => {
    counts.cleanups++;
    return Promise.resolve(0);
  };
  store.rebuildIndex = () => {
    counts.rebuilds++;
  };
  return counts;
}

describe('MemoryStore: timers (mocked)', () => {
  it('cleanupInterval fires cleanup() on schedule; stopCleanup/startCleanup control it', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const store = new MemoryStore({ cleanupInterval: 1000, indexInterval: 0 });
    const counts = countTimerWork(store);
    t.mock.timers.tick(999);
    assert.equal(counts.cleanups, 0);
    t.mock.timers.tick(1);
    assert.equal(counts.cleanups, 1);
    t.mock.timers.tick(3000);
    assert.equal(counts.cleanups, 4);
    store.stopCleanup();
    t.mock.timers.tick(10_000);
    assert.equal(counts.cleanups, 4);
    store.startCleanup();
    t.mock.timers.tick(1000);
    assert.equal(counts.cleanups, 5);
    assert.equal(counts.rebuilds, 0);
    await store.close();
    t.mock.timers.tick(10_000);
    assert.equal(counts.cleanups, 5);
  });

  it('indexInterval fires rebuildIndex(); stopIndexRebuild/startIndexRebuild control it', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const store = new MemoryStore({ cleanupInterval: 0, indexInterval: 5000 });
    const counts = countTimerWork(store);
    t.mock.timers.tick(15_000);
    assert.equal(counts.rebuilds, 3);
    store.stopIndexRebuild();
    t.mock.timers.tick(15_000);
    assert.equal(counts.rebuilds, 3);
    store.startIndexRebuild();
    t.mock.timers.tick(5000);
    assert.equal(counts.rebuilds, 4);
    assert.equal(counts.cleanups, 0);
    await store.close();
    t.mock.timers.tick(50_000);
    assert.equal(counts.rebuilds, 4);
  });

  it('interval 0 starts no timer; start*() then uses the documented fallback period', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const store = quietStore();
    const counts = countTimerWork(store);
    t.mock.timers.tick(10 * HOUR);
    assert.deepEqual(counts, { cleanups: 0, rebuilds: 0 });
    store.startCleanup();
    store.startIndexRebuild();
    t.mock.timers.tick(600_000);
    assert.deepEqual(counts, { cleanups: 10, rebuilds: 1 });
    await store.close();
  });

  it('the cleanup timer removes expired sessions (mocked Date and setInterval)', async (t) => {
    t.mock.timers.enable({ apis: ['Date', 'setInterval'], now: Date.now() });
    const store = new MemoryStore({ cleanupInterval: 1000, indexInterval: 0 });
    const now = Date.now();
    const short = generateSessionId();
    const long = generateSessionId();
    await store.create(short, record({}, { expiresAt: now + 500 }));
    await store.create(long, record({}, { expiresAt: now + HOUR }));
    assert.equal(await store.length(), 2);
    t.mock.timers.tick(1000);
    await sleep(5);
    assert.equal(await store.length(), 1);
    assert.ok(await store.get(long));
    await store.close();
  });

  it('errors of background work go to onError, never into the process', async () => {
    const errors: Error[] = [];
    const store = new MemoryStore({
      cleanupInterval: 5,
      indexInterval: 5,
      onError: (error) => {
        errors.push(error);
        throw new Error('a throwing handler is contained too');
      },
    });
    store.cleanup = () => Promise.reject(new Error('sweep failed'));
    store.rebuildIndex = () => {
      throw new Error('rebuild failed');
    };
    await sleep(80);
    await store.close();
    assert.ok(errors.some((e) => e.message === 'sweep failed'));
    assert.ok(errors.some((e) => e.message === 'rebuild failed'));
  });
});

describe('MemoryStore: real timers', () => {
  it('close() stops both timers', async () => {
    const store = new MemoryStore({ cleanupInterval: 5, indexInterval: 5 });
    const counts = countTimerWork(store);
    await sleep(80);
    assert.ok(counts.cleanups > 0 && counts.rebuilds > 0, JSON.stringify(counts));
    await store.close();
    const before = { ...counts };
    await sleep(40);
    assert.deepEqual(counts, before);
  });

  it('timers are unref()d: a process that only creates a MemoryStore exits by itself', async () => {
    const memoryModule = fileURLToPath(
      new URL('../../src/stores/memory/memory-store.ts', import.meta.url),
    );
    const script = `import(${JSON.stringify(memoryModule)}).then((m) => {
      new m.MemoryStore({ cleanupInterval: 10, indexInterval: 10 });
      new m.MemoryStore();
      console.log('created');
    });`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself; stderr: ${stderr}`);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /created/);
  });

  it('intervals beyond the 32-bit timer range never turn into a 1 ms busy timer', async () => {
    for (const options of [{ cleanupInterval: 2 ** 31 }, { indexInterval: 2 ** 31 }]) {
      let store: MemoryStore;
      try {
        store = new MemoryStore(options);
      } catch (error) {
        assert.ok(error instanceof InvalidOptionError, String(error));
        continue;
      }
      const counts = countTimerWork(store);
      await sleep(30);
      await store.close();
      assert.deepEqual(
        counts,
        { cleanups: 0, rebuilds: 0 },
        `${JSON.stringify(options)} ran the timer every millisecond`,
      );
    }
  });
});

describe('MemoryStore: cleanup removes exactly the expired sessions', () => {
  it('100 sessions, 50 short-lived: cleanup() resolves 50 and the other 50 remain', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore();
    const now = Date.now();
    const short = new Set<string>();
    const long = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const id = generateSessionId();
      if (i % 2 === 0) {
        short.add(id);
        await store.create(id, record({}, { expiresAt: now + 1000 + i }));
      } else {
        long.add(id);
        await store.create(id, record({}, { expiresAt: now + HOUR + i }));
      }
    }
    assert.equal(await store.cleanup(), 0);
    t.mock.timers.tick(1100);
    assert.equal(await store.length(), 100);
    assert.equal(await store.cleanup(), 50);
    assert.equal(await store.length(), 50);
    assert.deepEqual(await liveIds(store), long);
    for (const id of long) assert.ok(await store.get(id));
    assert.equal(await store.cleanup(), 0);
    await store.close();
  });

  it('a session expiring exactly now counts as expired', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore();
    const id = generateSessionId();
    await store.create(id, record({}, { expiresAt: Date.now() + 1000 }));
    t.mock.timers.tick(1000);
    assert.equal(await store.cleanup(), 1);
    await store.close();
  });

  it('the index stays correct after many touches, with and without a rebuild', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore();
    const base = Date.now();
    const expiry = new Map<string, number>();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let i = 0; i < 1000; i++) {
      const id = generateSessionId();
      const at = base + 1000 + Math.floor(random() * HOUR);
      expiry.set(id, at);
      await store.create(id, record({}, { expiresAt: at }));
    }
    /** Touches live sessions at random, to earlier and later expiries. */
    const churn = async (times: number) => {
      const now = Date.now();
      const ids = [...expiry.keys()];
      for (let n = 0; n < times; n++) {
        const id = ids[Math.floor(random() * ids.length)]!;
        const at = now + 1 + Math.floor(random() * HOUR);
        expiry.set(id, at);
        if (n % 3 === 0) assert.ok(await store.update(id, { set: { n } }, at));
        else assert.ok(await store.touch(id, at));
        if (n % 997 === 0) {
          // destroy and re-create some, leaving holes behind in the index
          await store.destroy(id);
          await store.create(id, record({}, { expiresAt: at }));
        }
      }
    };
    const steps = [HOUR / 4, HOUR / 2, HOUR, 2 * HOUR];
    for (const [i, step] of steps.entries()) {
      await churn(i === 0 ? 20_000 : 3000);
      // the first check runs on the incrementally maintained index, the others after a rebuild
      if (i > 0) store.rebuildIndex();
      t.mock.timers.setTime(base + 1000 + step);
      const now = Date.now();
      const expected = [...expiry].filter(([, at]) => at <= now).map(([id]) => id);
      const remaining = new Set([...expiry].filter(([, at]) => at > now).map(([id]) => id));
      assert.equal(await store.cleanup(), expected.length, `at +${step} ms`);
      for (const id of expected) expiry.delete(id);
      assert.equal(await store.length(), remaining.size);
      assert.deepEqual(await liveIds(store), remaining);
    }
    t.mock.timers.setTime(base + 10 * HOUR);
    assert.equal(await store.cleanup(), expiry.size);
    assert.equal(await store.length(), 0);
    await store.close();
  });

  it('100,000 sessions with 10 % expired: cleanup() removes exactly the 10,000', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore({ maxSessions: 200_000 });
    const now = Date.now();
    const expiring: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const id = generateSessionId();
      const soon = i % 10 === 3;
      if (soon) expiring.push(id);
      await store.create(
        id,
        record({ i }, { expiresAt: soon ? now + 1000 + (i % 500) : now + HOUR - i }),
      );
    }
    assert.equal(await store.length(), 100_000);
    t.mock.timers.tick(2000);
    assert.equal(await store.cleanup(), 10_000);
    assert.equal(await store.length(), 90_000);
    for (const id of expiring.slice(0, 100)) assert.equal(await store.get(id), undefined);
    await store.close();
  });

  it('only one sweep runs at a time', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore();
    for (let i = 0; i < 100; i++)
      await store.create(generateSessionId(), record({}, { expiresAt: Date.now() + 10 }));
    t.mock.timers.tick(100);
    const [a, b] = await Promise.all([store.cleanup(), store.cleanup()]);
    assert.equal(a, 100);
    assert.equal(b, 100);
    await store.close();
  });
});

describe('MemoryStore: maxSessions', () => {
  it("'evict-oldest' removes the session idle the longest and never exceeds the bound", async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore({ maxSessions: 5, maxAge: HOUR });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = generateSessionId();
      ids.push(id);
      await store.create(id, record({}, { expiresAt: Date.now() + HOUR }));
      t.mock.timers.tick(1000);
    }
    // ids[0] was created first, but is active again: ids[1] is now the one idle the longest.
    assert.ok(await store.touch(ids[0]!, Date.now() + HOUR));
    t.mock.timers.tick(1000);
    const sixth = generateSessionId();
    assert.equal(await store.create(sixth, record({}, { expiresAt: Date.now() + HOUR })), true);
    assert.equal(await store.length(), 5);
    assert.equal(await store.get(ids[1]!), undefined);
    for (const id of [ids[0]!, ids[2]!, ids[3]!, ids[4]!, sixth]) assert.ok(await store.get(id));

    for (let i = 0; i < 50; i++) {
      t.mock.timers.tick(10);
      await store.create(generateSessionId(), record({}, { expiresAt: Date.now() + HOUR }));
      assert.ok((await store.length()) <= 5);
    }
    assert.equal(await store.length(), 5);
    await store.close();
  });

  it("'evict-oldest' prefers an already expired session", async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore({ maxSessions: 2 });
    const a = generateSessionId();
    const b = generateSessionId();
    await store.create(a, record({}, { expiresAt: Date.now() + HOUR }));
    await store.create(b, record({}, { expiresAt: Date.now() + 100 }));
    t.mock.timers.tick(200);
    await store.create(generateSessionId(), record({}, { expiresAt: Date.now() + HOUR }));
    assert.ok(await store.get(a));
    assert.equal(await store.length(), 2);
    await store.close();
  });

  it("'reject' refuses new sessions with StoreFullError and keeps every existing one", async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore({ maxSessions: 3, whenFull: 'reject' });
    const ids = [generateSessionId(), generateSessionId(), generateSessionId()];
    for (const id of ids)
      await store.create(id, record({ who: id }, { expiresAt: Date.now() + HOUR }));
    await assert.rejects(
      store.create(generateSessionId(), record({}, { expiresAt: Date.now() + HOUR })),
      (error: unknown) => error instanceof StoreFullError && error.code === 'STORE_FULL',
    );
    assert.equal(await store.length(), 3);
    for (const id of ids) assert.equal((await store.get(id))?.data.who, id);
    // updates of existing sessions still work when full
    assert.ok(await store.update(ids[0]!, { set: { x: 1 } }, Date.now() + HOUR));
    // once one expires, there is room again
    await store.touch(ids[1]!, Date.now() + 100);
    t.mock.timers.tick(200);
    assert.equal(
      await store.create(generateSessionId(), record({}, { expiresAt: Date.now() + HOUR })),
      true,
    );
    assert.equal(await store.length(), 3);
    await store.close();
  });
});

describe('MemoryStore: options', () => {
  it('has the documented defaults', async () => {
    const store = new MemoryStore();
    assert.equal(store.maxAge, 86_400_000);
    assert.equal(store.cleanupInterval, 60_000);
    assert.equal(store.indexInterval, 600_000);
    assert.equal(store.maxSessions, 100_000);
    assert.equal(store.whenFull, 'evict-oldest');
    await store.close();
  });

  const bad: [string, unknown, string][] = [
    ['null options', null, 'MemoryStore options'],
    ['string options', 'fast', 'MemoryStore options'],
    ['maxAge 0', { maxAge: 0 }, 'maxAge'],
    ['maxAge negative', { maxAge: -1 }, 'maxAge'],
    ['maxAge NaN', { maxAge: Number.NaN }, 'maxAge'],
    [
      'maxAge Infinity, which the manager refuses too',
      { maxAge: Number.POSITIVE_INFINITY },
      'maxAge',
    ],
    ['maxAge over ten years', { maxAge: 315_360_000_001 }, 'maxAge'],
    ['maxAge as string', { maxAge: '1000' }, 'maxAge'],
    ['cleanupInterval negative', { cleanupInterval: -1 }, 'cleanupInterval'],
    ['cleanupInterval NaN', { cleanupInterval: Number.NaN }, 'cleanupInterval'],
    ['cleanupInterval Infinity', { cleanupInterval: Number.POSITIVE_INFINITY }, 'cleanupInterval'],
    ['cleanupInterval as string', { cleanupInterval: '60000' }, 'cleanupInterval'],
    ['indexInterval negative', { indexInterval: -5 }, 'indexInterval'],
    ['indexInterval as string', { indexInterval: '1' }, 'indexInterval'],
    ['maxSessions 0', { maxSessions: 0 }, 'maxSessions'],
    ['maxSessions negative', { maxSessions: -10 }, 'maxSessions'],
    ['maxSessions fractional', { maxSessions: 1.5 }, 'maxSessions'],
    ['maxSessions as string', { maxSessions: '10' }, 'maxSessions'],
    ['whenFull unknown', { whenFull: 'lru' }, 'whenFull'],
    ['onError not a function', { onError: 'log' }, 'onError'],
  ];
  for (const [name, options, option] of bad) {
    it(`rejects ${name} with an InvalidOptionError naming ${option}`, () => {
      assertRefused(() => new MemoryStore(options as MemoryStoreOptions), option);
    });
  }
});

describe('MemoryStore: maxAge clamp and close', () => {
  it('clamps every expiry to now + maxAge (create, update, touch)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const store = quietStore({ maxAge: 1000 });
    const id = generateSessionId();
    await store.create(id, record({}, { expiresAt: Date.now() + HOUR }));
    assert.equal((await store.get(id))?.expiresAt, Date.now() + 1000);
    t.mock.timers.tick(500);
    await store.update(id, { set: { a: 1 } }, Date.now() + HOUR);
    assert.equal((await store.get(id))?.expiresAt, Date.now() + 1000);
    t.mock.timers.tick(500);
    await store.touch(id, Date.now() + HOUR);
    assert.equal((await store.get(id))?.expiresAt, Date.now() + 1000);
    // a shorter expiry is kept as given
    await store.touch(id, Date.now() + 10);
    assert.equal((await store.get(id))?.expiresAt, Date.now() + 10);
    t.mock.timers.tick(1000);
    assert.equal(await store.get(id), undefined);
    await store.close();
  });
});

describe('MemoryStore: values read back as JSON carries them', () => {
  it('numbers, booleans and null as themselves; NaN, Infinity and -0 as JSON makes them; undefined dropped', async () => {
    const store = quietStore();
    const id = generateSessionId();
    const now = Date.now();
    await store.create(id, {
      data: { n: 42, f: 1.5, t: true, z: null, nan: Number.NaN, neg: -0 },
      createdAt: now,
      expiresAt: now + HOUR,
    });
    await store.update(
      id,
      { set: { inf: Number.POSITIVE_INFINITY, u: undefined as unknown as null, s: 'text' } },
      now + HOUR,
    );
    const got = await store.get(id);
    assert.deepEqual({ ...got!.data }, JSON.parse(JSON.stringify({ ...got!.data })));
    assert.deepEqual(
      { ...got!.data },
      { n: 42, f: 1.5, t: true, z: null, nan: null, neg: 0, inf: null, s: 'text' },
    );
    assert.ok(Object.is(got!.data.neg, 0), '-0 reads back as 0, as JSON carries it');
    await store.close();
  });

  it('an object or array read back is a copy: mutating it changes nothing stored', async () => {
    const store = quietStore();
    const id = generateSessionId();
    const now = Date.now();
    await store.create(id, {
      data: { cart: { items: [1] } },
      createdAt: now,
      expiresAt: now + HOUR,
    });
    const first = await store.get(id);
    (first!.data.cart as { items: number[] }).items.push(2);
    assert.deepEqual((await store.get(id))!.data.cart, { items: [1] });
    await store.close();
  });

  it('the user binding reads back frozen and shared: nobody can change it, the caller’s object neither', async () => {
    const store = quietStore();
    const id = generateSessionId();
    const now = Date.now();
    const binding = { id: 'ann', epoch: 3, meta: { ua: 'x', tags: ['a'] } };
    const created = await store.createForUser(
      id,
      {
        data: { [USER_BINDING_KEY]: binding, cart: { n: 1 } },
        createdAt: now,
        expiresAt: now + HOUR,
      },
      'ann',
    );
    assert.equal(created.status, 'created');
    // The caller's object was copied, not kept.
    binding.meta.tags.push('b');
    const first = (await store.get(id))!;
    const second = (await store.get(id))!;
    const stored = first.data[USER_BINDING_KEY] as typeof binding;
    assert.deepEqual(stored, { id: 'ann', epoch: 3, meta: { ua: 'x', tags: ['a'] } });
    assert.equal(second.data[USER_BINDING_KEY], stored, 'one object for every read');
    assert.ok(
      Object.isFrozen(stored) && Object.isFrozen(stored.meta) && Object.isFrozen(stored.meta.tags),
    );
    assert.throws(() => {
      stored.meta.tags.push('c');
    }, TypeError);
    // Other objects stay fresh copies.
    assert.notEqual(first.data.cart, second.data.cart);
    // A new binding (a restamp) replaces it, copied and frozen in turn.
    assert.ok(
      await store.update(id, { set: { [USER_BINDING_KEY]: { id: 'ann', epoch: 4 } } }, now + HOUR),
    );
    const restamped = (await store.get(id))!.data[USER_BINDING_KEY];
    assert.deepEqual(restamped, { id: 'ann', epoch: 4 });
    assert.ok(Object.isFrozen(restamped));
    await store.close();
  });
});
