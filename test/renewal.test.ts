/**
 * Rolling renewal over real HTTP on every store: concurrent readers renew a session once per
 * `touchAfter`, and a store that refuses the renewal (a full disk, Redis at `maxmemory`) does not
 * fail a read-only request — only explicit writes reject.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type ErrorRequestHandler } from 'express';
import { createClient } from 'redis';
import { SessionManager, type SessionStore } from '../src/index.js';
import type { SessionEvent } from '../src/middleware.js';
import { FileStore } from '../src/stores/file/file-store.js';
import { MemoryStore } from '../src/stores/memory/memory-store.js';
import { RedisStore } from '../src/stores/redis/redis-store.js';
import { removeDir, tempDir } from './helpers/file-store.js';
import { Client, fetchReply, listen } from './helpers/http.js';
import {
  canSpawnRedisServer,
  REDIS_REQUIRED,
  REDIS_URL,
  RedisServer,
  randomPrefix,
  redisSkipReason,
} from './helpers/redis.js';
import { addSessionWriteRoutes, h } from './helpers/routes.js';

const SECRET = 'renewal test secret, long enough: 0123456789abcdef';
// Long enough that 40 concurrent requests land within one window on a loaded machine.
const TOUCH_AFTER = 1_000;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(error.status ?? 500).json({ code: error.code ?? 'UNKNOWN' });
};

/** An app on `store` with `/write/:key/:value` and `/read/:key`; counts the store's touches. */
async function serve(store: SessionStore) {
  const events: SessionEvent[] = [];
  const touches: number[] = [];
  const touch = store.touch.bind(store);
  store.touch = (id, expiresAt, minExtension) => {
    touches.push(expiresAt);
    return touch(id, expiresAt, minExtension);
  };
  const sm = new SessionManager({
    store,
    secret: SECRET,
    maxAge: 60_000,
    touchAfter: TOUCH_AFTER,
    onEvent: (event) => events.push(event),
  });
  const app = express();
  app.use(sm.middleware());
  addSessionWriteRoutes(app, sm);
  app.get(
    '/read/:key',
    h(async (req, res) => {
      res.json({ value: (await sm.get(req, req.params.key as string)) ?? null });
    }),
  );
  app.use(errorHandler);
  const server = await listen(app);
  cleanups.push(() => server.close());
  return { url: server.url, events, touches, sm };
}

interface Target {
  name: string;
  /** The store, or a reason to skip. */
  make(): Promise<SessionStore | string>;
}

const targets: Target[] = [
  { name: 'MemoryStore', make: async () => new MemoryStore() },
  ...[true, false].map(
    (syncIO): Target => ({
      name: `FileStore (syncIO: ${syncIO})`,
      async make() {
        const dir = await tempDir('ssjs-renewal-');
        cleanups.push(() => removeDir(dir));
        return new FileStore({ path: dir, syncIO });
      },
    }),
  ),
  {
    name: 'RedisStore',
    async make() {
      const skip = await redisSkipReason();
      if (skip) return skip;
      const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
      client.on('error', () => {});
      await client.connect();
      const store = new RedisStore({ client, prefix: randomPrefix('renewal') });
      cleanups.push(async () => {
        await store.clear();
        client.destroy();
      });
      return store;
    },
  },
];

describe('rolling renewal of concurrent readers', () => {
  for (const target of targets) {
    it(`${target.name}: 40 concurrent readers after touchAfter make one store touch`, async (t) => {
      const store = await target.make();
      if (typeof store === 'string') return t.skip(store);
      const app = await serve(store);
      const browser = new Client(app.url);
      assert.equal((await browser.get('/write/user/ada')).status, 200);
      await sleep(TOUCH_AFTER * 1.5);
      const cookie = browser.cookieHeader() as string;
      const started = Date.now();
      const replies = await Promise.all(
        Array.from({ length: 40 }, () => fetchReply(`${app.url}/read/user`, { cookie })),
      );
      const spread = Date.now() - started;
      for (const reply of replies) {
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.json(), { value: 'ada' });
      }
      // One renewal per touchAfter window: a single touch when the 40 land within one window (as
      // they do on any machine that is not starved); a starved machine may span one window more
      // per touchAfter elapsed, never one touch per reader.
      const allowed = 1 + Math.floor(spread / TOUCH_AFTER);
      assert.ok(
        app.touches.length >= 1 && app.touches.length <= allowed,
        `store touches: ${app.touches.length}, allowed ${allowed} over ${spread} ms`,
      );
      const touchesBefore = app.touches.length;
      // The renewal was sent back as a fresh cookie, and the store holds the renewed expiry.
      const renewed = replies.filter((r) => r.cookiesNamed('sid').length === 1);
      assert.ok(renewed.length >= 1);
      await sleep(TOUCH_AFTER * 1.5);
      assert.equal((await fetchReply(`${app.url}/read/user`, { cookie })).status, 200);
      assert.equal(
        app.touches.length,
        touchesBefore + 1,
        'renewal is due again one touchAfter later',
      );
    });
  }
});

/** Asserts the read-only request got 200 and the session, the explicit write 503. */
async function assertReadsSurviveAFullStore(url: string, events: SessionEvent[], code: string) {
  const browser = new Client(url);
  return {
    browser,
    async check() {
      const read = await browser.get('/read/user');
      assert.equal(read.status, 200, read.body);
      assert.deepEqual(read.json(), { value: 'ada' });
      assert.deepEqual(
        events.filter((e) => e.type === 'renewal-failed'),
        [{ type: 'renewal-failed', code }],
      );
      const write = await browser.get('/write/more/x');
      assert.equal(write.status, 503);
      assert.deepEqual(write.json(), { code });
      // Still logged in: the failed renewal and the refused write lost nothing.
      assert.deepEqual((await browser.get('/read/user')).json(), { value: 'ada' });
    },
  };
}

describe('a store that refuses writes does not fail read-only requests', () => {
  it('RedisStore at maxmemory with noeviction', async (t) => {
    if (!(await canSpawnRedisServer())) {
      if (REDIS_REQUIRED) throw new Error('redis-server is required (CI=true or REQUIRE_REDIS=1)');
      return t.skip('no redis-server binary to start a private Redis');
    }
    const server = await RedisServer.start();
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    cleanups.push(async () => {
      client.destroy();
      await server.stop();
    });
    const app = await serve(new RedisStore({ client }));
    const probe = await assertReadsSurviveAFullStore(app.url, app.events, 'STORE_WRITE_FAILED');
    await probe.browser.get(`/write/user/ada`);
    await sleep(TOUCH_AFTER * 1.5);
    await client.sendCommand(['SET', 'filler', 'x'.repeat(3_000_000)]);
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await client.sendCommand(['CONFIG', 'SET', 'maxmemory', '1mb']);
    await probe.check();
  });

  describe('FileStore on a full tmpfs', () => {
    for (const [label, options] of [
      ['a session over one page (rewritten through a new file)', { big: true }],
      ['multiProcess (the lock file cannot be created)', { multiProcess: true }],
    ] as const) {
      it(label, async (t) => {
        const root = await tempDir('ssjs-renewal-tmpfs-');
        try {
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', root], {
            stdio: 'ignore',
          });
        } catch {
          await removeDir(root);
          return t.skip('mounting a tmpfs is not permitted here (needs root)');
        }
        cleanups.push(async () => {
          execFileSync('umount', ['-l', root]);
          await removeDir(root);
        });
        const multiProcess = 'multiProcess' in options;
        const app = await serve(new FileStore({ path: join(root, 's'), multiProcess }));
        const probe = await assertReadsSurviveAFullStore(app.url, app.events, 'STORE_WRITE_FAILED');
        const value = 'big' in options ? 'a'.repeat(5000) : 'ada';
        await probe.browser.get(`/write/pad/${value}`);
        await probe.browser.get('/write/user/ada');
        await sleep(TOUCH_AFTER * 1.5);
        await fill(join(root, 'filler'));
        await probe.check();
      });
    }
  });
});

/** Writes to `path` until the file system refuses (tmpfs gives short writes, then ENOSPC). */
async function fill(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    while ((await handle.write(Buffer.alloc(4096))).bytesWritten > 0);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await handle.close();
  }
}
