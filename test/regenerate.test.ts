/**
 * `regenerate` racing other requests of the same session, over real HTTP, on every store: a
 * logout that comes first wins (no new session, no cookie), a logout that comes after ends the
 * new session too, and writes acknowledged before the regenerate are carried over. Each store
 * is served by two apps, as two processes sharing it would be (two store instances where the
 * store supports that: Redis, FileStore with `multiProcess`).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import { createClient } from 'redis';
import { MemoryStore, SessionManager, type SessionStore } from '../src/index.js';
import { FileStore } from '../src/stores/file/file-store.js';
import { RedisStore } from '../src/stores/redis/redis-store.js';
import { removeDir, tempDir } from './helpers/file-store.js';
import { Client, fetchReply, listen, type Reply } from './helpers/http.js';
import { REDIS_URL, randomPrefix, redisSkipReason } from './helpers/redis.js';
import { addSessionWriteRoutes, h } from './helpers/routes.js';

const SECRET = 'regenerate test secret, long enough: 0123456789abcdef';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(error.status ?? 500).json({ code: error.code ?? 'UNKNOWN' });
};

/** A promise the test resolves, and one that resolves when a request starts waiting for it. */
class Gate {
  #open!: () => void;
  #reached!: () => void;
  readonly opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });
  readonly reached = new Promise<void>((resolve) => {
    this.#reached = resolve;
  });
  async pass(): Promise<void> {
    this.#reached();
    await this.opened;
  }
  open(): void {
    this.#open();
  }
}

/**
 * An app on `store`. `/regenerate` and `/logout` wait at the gate of `?gate=` (after the
 * session was loaded) when the test set one.
 */
async function serve(store: SessionStore, gates: Map<string, Gate>) {
  const sm = new SessionManager({ store, secret: SECRET });
  const app = express();
  app.use(sm.middleware());
  const wait = (req: express.Request) => gates.get(String(req.query.gate))?.pass();
  addSessionWriteRoutes(app, sm);
  app.get(
    '/read',
    h(async (req, res) => {
      res.json({
        user: (await sm.get(req, 'user')) ?? null,
        cart: (await sm.get(req, 'cart')) ?? null,
      });
    }),
  );
  app.get(
    '/regenerate',
    h(async (req, res) => {
      await wait(req);
      res.json({ id: await sm.regenerate(req, { keep: true }) });
    }),
  );
  app.get(
    '/login',
    h(async (req, res) => {
      await wait(req);
      res.json({ id: await sm.regenerate(req, { keep: true, user: 'alice' }) });
    }),
  );
  app.get(
    '/logout',
    h(async (req, res) => {
      await wait(req);
      await sm.destroy(req);
      res.json({ ok: true });
    }),
  );
  app.use(errorHandler);
  const server = await listen(app);
  cleanups.push(() => server.close());
  return server.url;
}

interface Target {
  name: string;
  /** The store keeps a per-user index (`regenerate({ user })`). */
  users?: boolean;
  /** Two stores on one backend (or one store twice), or a reason to skip. */
  make(): Promise<[SessionStore, SessionStore] | string>;
}

/** A store without the optional `move`: the required methods of a real MemoryStore. */
function withoutMove(inner: MemoryStore): SessionStore {
  return {
    get: (id) => inner.get(id),
    create: (id, record) => inner.create(id, record),
    update: (id, changes, expiresAt) => inner.update(id, changes, expiresAt),
    touch: (id, expiresAt) => inner.touch(id, expiresAt),
    destroy: (id) => inner.destroy(id),
    all: () => inner.all(),
    length: () => inner.length(),
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
}

const targets: Target[] = [
  {
    name: 'MemoryStore',
    users: true,
    async make() {
      const store = new MemoryStore();
      return [store, store];
    },
  },
  {
    name: 'FileStore',
    async make() {
      const dir = await tempDir('ssjs-regenerate-');
      cleanups.push(() => removeDir(dir));
      const store = new FileStore({ path: dir, syncIO: false });
      return [store, store];
    },
  },
  {
    name: 'FileStore (multiProcess, two instances)',
    async make() {
      const dir = await tempDir('ssjs-regenerate-mp-');
      cleanups.push(() => removeDir(dir));
      return [
        new FileStore({ path: dir, multiProcess: true }),
        new FileStore({ path: dir, multiProcess: true }),
      ];
    },
  },
  {
    name: 'RedisStore (two clients)',
    users: true,
    async make() {
      const skip = await redisSkipReason();
      if (skip) return skip;
      const prefix = randomPrefix('regenerate');
      const stores = await Promise.all(
        [0, 1].map(async () => {
          const client = createClient({ url: REDIS_URL, disableOfflineQueue: true });
          client.on('error', () => {});
          await client.connect();
          const store = new RedisStore({ client, prefix });
          cleanups.push(async () => {
            await store.clear();
            client.destroy();
          });
          return store;
        }),
      );
      return [stores[0] as SessionStore, stores[1] as SessionStore];
    },
  },
  {
    name: 'a store without move (the manager moves in steps)',
    async make() {
      const store = withoutMove(new MemoryStore());
      return [store, store];
    },
  },
];

/**
 * Sends `url` (whose route waits at gate `name`) with `cookie`, runs `meanwhile` while it waits,
 * then lets it go on; resolves its reply.
 */
async function held(
  gates: Map<string, Gate>,
  name: string,
  url: string,
  cookie: string,
  meanwhile: () => Promise<void>,
): Promise<Reply> {
  const gate = new Gate();
  gates.set(name, gate);
  const reply = fetchReply(`${url}${url.includes('?') ? '&' : '?'}gate=${name}`, { cookie });
  await gate.reached;
  try {
    await meanwhile();
  } finally {
    gate.open();
  }
  return reply;
}

/** Asserts a request with `cookie` to `url` is acknowledged. */
async function ok(url: string, cookie: string): Promise<void> {
  const reply = await fetchReply(url, { cookie });
  assert.equal(reply.status, 200, reply.body);
}

/** A write acknowledged while `route` (a regenerate) waits is in the session it moves to. */
async function assertWriteCarried(
  s: { gates: Map<string, Gate>; first: string; second: string; cookie: string },
  route: string,
): Promise<void> {
  const reply = await held(s.gates, 'w', s.first + route, s.cookie, () =>
    ok(`${s.second}/write/cart/3`, s.cookie),
  );
  assert.equal(reply.status, 200);
  const sid = sidOf(reply);
  assert.ok(sid);
  const read = await fetchReply(`${s.first}/read`, { cookie: `sid=${sid}` });
  assert.deepEqual(read.json(), { user: 'alice', cart: '3' });
}

/** The `sid` the reply set, or `undefined` (none, or a clearing one). */
function sidOf(reply: Reply): string | undefined {
  const value = reply.cookiesNamed('sid')[0]?.value;
  return value ? value : undefined;
}

for (const target of targets) {
  describe(`regenerate racing other requests: ${target.name}`, () => {
    async function setup(t: { skip(message: string): void }) {
      const stores = await target.make();
      if (typeof stores === 'string') {
        t.skip(stores);
        return undefined;
      }
      const gates = new Map<string, Gate>();
      const [first, second] = [await serve(stores[0], gates), await serve(stores[1], gates)];
      const browser = new Client(first);
      assert.equal((await browser.get('/write/user/alice')).status, 200);
      const cookie = browser.cookieHeader() as string;
      return { stores, gates, first, second, cookie };
    }

    it('a logout that lands while the regenerate is in flight wins: 409, no new session, no cookie', async (t) => {
      const s = await setup(t);
      if (!s) return;
      const reply = await held(s.gates, 'r', `${s.first}/regenerate`, s.cookie, () =>
        ok(`${s.second}/logout`, s.cookie),
      );
      assert.equal(reply.status, 409);
      assert.deepEqual(reply.json(), { code: 'SESSION_DESTROYED' });
      assert.equal(sidOf(reply), undefined);
      assert.equal(await countLive(s.stores[0]), 0);
    });

    it('a write acknowledged while the regenerate is in flight is carried to the new session', async (t) => {
      const s = await setup(t);
      if (!s) return;
      await assertWriteCarried(s, '/regenerate');
      // The old cookie leads nowhere any more.
      const old = await fetchReply(`${s.second}/read`, { cookie: s.cookie });
      assert.deepEqual(old.json(), { user: null, cart: null });
    });

    it('a logout by a request that loaded the old session before the regenerate ends the new session too', async (t) => {
      const s = await setup(t);
      if (!s) return;
      if (target.name.startsWith('a store without move')) {
        return t.skip('without move, a logout after the regenerate is not followed');
      }
      let sid: string | undefined;
      const loggedOut = await held(s.gates, 'l', `${s.second}/logout`, s.cookie, async () => {
        const regenerated = await fetchReply(`${s.first}/regenerate`, { cookie: s.cookie });
        assert.equal(regenerated.status, 200);
        sid = sidOf(regenerated);
      });
      assert.equal(loggedOut.status, 200);
      assert.ok(sid);
      const read = await fetchReply(`${s.first}/read`, { cookie: `sid=${sid}` });
      assert.deepEqual(read.json(), { user: null, cart: null });
      assert.equal(await countLive(s.stores[0]), 0);
    });

    it('a login (regenerate bound to a user) loses to a logout that lands first, and carries a write that did', async (t) => {
      if (!target.users) return t.skip('this store keeps no per-user index');
      const s = await setup(t);
      if (!s) return;
      await assertWriteCarried(s, '/login');

      const browser = new Client(s.first);
      await browser.get('/write/user/bob');
      const cookie = browser.cookieHeader() as string;
      const refused = await held(s.gates, 'l', `${s.first}/login`, cookie, () =>
        ok(`${s.second}/logout`, cookie),
      );
      assert.equal(refused.status, 409);
      assert.equal(sidOf(refused), undefined);
      assert.equal(await countLive(s.stores[0]), 1, 'only the first login is left');
    });
  });
}

describe('regenerate at capacity', () => {
  it("MemoryStore with whenFull: 'reject' moves an existing session instead of refusing it", async () => {
    const url = await serve(new MemoryStore({ maxSessions: 1, whenFull: 'reject' }), new Map());
    const browser = new Client(url);
    await browser.get('/write/user/alice');
    const reply = await browser.get('/regenerate');
    assert.equal(reply.status, 200, reply.body);
    assert.deepEqual((await browser.get('/read')).json(), { user: 'alice', cart: null });
    // A new visitor is still refused: the store is at capacity.
    assert.equal((await fetchReply(`${url}/write/user/bob`)).status, 503);
  });

  it("MemoryStore with whenFull: 'reject' lets an existing session log in (regenerate bound to a user)", async () => {
    const store = new MemoryStore({ maxSessions: 1, whenFull: 'reject' });
    const url = await serve(store, new Map());
    const browser = new Client(url);
    await browser.get('/write/user/alice');
    const reply = await browser.get('/login');
    assert.equal(reply.status, 200, reply.body);
    assert.equal(await countLive(store), 1);
    assert.deepEqual((await browser.get('/read')).json(), { user: 'alice', cart: null });
    assert.equal((await fetchReply(`${url}/write/user/bob`)).status, 503);
  });
});

async function countLive(store: SessionStore): Promise<number> {
  let count = 0;
  for await (const _ of store.all()) count++;
  return count;
}
