/**
 * Where the drop-in is better than express-session. Each scenario runs over real HTTP on the
 * real express-session (with its MemoryStore), where it loses data, resurrects a session or
 * adopts an expired one, and on the drop-in over MemoryStore, FileStore and RedisStore, where it
 * does not.
 */
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import realSession from 'express-session';
import dropIn from '../../src/express-session/index.js';
import type { SessionStore } from '../../src/index.js';
import { Client, listen } from '../helpers/http.js';
import { makeApp } from './app.js';
import { IMPLS, ours, real, useImpl } from './impls.js';

for (const impl of IMPLS) {
  const isReal = impl.label === 'express-session';
  describe(`${impl.label}${isReal ? ' (loses)' : ' (keeps)'}`, { skip: impl.skip }, () => {
    const h = useImpl(impl);
    const withClient = h.withClient;
    const twin = (client: Client) => new Client(client.base, new Map(client.jar));

    it('concurrent requests changing different keys: both land', async () => {
      await withClient({}, async (client) => {
        await client.get('/set/start/1');
        await Promise.all([client.get('/slow/a/1?ms=250'), twin(client).get('/set/b/2')]);
        const data = (await client.get('/data')).json<{ data: Record<string, string> }>().data;
        if (isReal) assert.equal(data.b, undefined, 'the slow request overwrote b');
        else assert.deepEqual(data, { start: '1', a: '1', b: '2' });
      });
    });

    it('resave: true never writes a stale copy over a concurrent change', async () => {
      await withClient({ resave: true }, async (client) => {
        await client.get('/set/start/1');
        await Promise.all([client.get('/wait?ms=250'), twin(client).get('/set/b/2')]);
        const data = (await client.get('/data')).json<{ data: Record<string, string> }>().data;
        if (isReal) assert.equal(data.b, undefined, 'the resave overwrote b');
        else assert.equal(data.b, '2');
      });
    });

    it('a logout during a slow request stays a logout', async () => {
      await withClient({}, async (client) => {
        await client.get('/set/user/alice');
        const cookie = client.jar.get('connect.sid')!;
        const slow = client.get('/slow/late/write?ms=300');
        await sleep(100);
        await twin(client).get('/destroy');
        await slow;
        const back = await new Client(client.base).get('/data', {
          cookie: `connect.sid=${cookie}`,
        });
        const data = back.json<{ data: Record<string, string> }>().data;
        if (isReal) assert.equal(data.user, 'alice', 'the logged-out session came back');
        else assert.deepEqual(data, {});
      });
    });

    it('a session that expired during a slow request is not brought back', async () => {
      await withClient({ cookie: { maxAge: 150 } }, async (client) => {
        const { id } = (await client.get('/set/user/alice')).json<{ id: string }>();
        const cookie = `connect.sid=${client.jar.get('connect.sid')!}`;
        await new Client(client.base).get('/slow/late/write?ms=400', { cookie });
        if (isReal) {
          // express-session wrote the expired session back, with a fresh expiry.
          const raw = (h.store as { sessions: Record<string, string> }).sessions[id]!;
          assert.equal(JSON.parse(raw).user, 'alice');
        } else {
          assert.equal(await (h.store as SessionStore).get(id), undefined);
        }
      });
    });
  });
}

/**
 * A store as many community stores are written: synchronous callbacks, no expiry check of its
 * own (it relies on a TTL that has not run yet).
 */
class TrustingStore extends realSession.Store {
  readonly sessions = new Map<string, string>();
  get(sid: string, cb: (e: unknown, s?: realSession.SessionData | null) => void) {
    const raw = this.sessions.get(sid);
    cb(null, raw ? JSON.parse(raw) : null);
  }
  set(sid: string, s: realSession.SessionData, cb?: (e?: unknown) => void) {
    this.sessions.set(sid, JSON.stringify(s));
    cb?.();
  }
  destroy(sid: string, cb?: (e?: unknown) => void) {
    this.sessions.delete(sid);
    cb?.();
  }
}

describe('a stored session whose cookie has expired', () => {
  for (const [label, factory] of [
    ['express-session', real],
    ['drop-in', ours],
  ] as const) {
    const session = label === 'express-session' ? 0 : 1;
    it(`${label}: ${session === 0 ? 'adopted' : 'refused'} (synchronous store)`, async () => {
      const store = new TrustingStore();
      const server = await listen(makeApp(factory, { store, cookie: { maxAge: 60_000 } }));
      try {
        const client = new Client(server.url);
        const { id } = (await client.get('/set/user/alice')).json<{ id: string }>();
        const stored = JSON.parse(store.sessions.get(id)!);
        stored.cookie.expires = new Date(Date.now() - 1000).toISOString();
        store.sessions.set(id, JSON.stringify(stored));
        const data = (await client.get('/data')).json<{ data: Record<string, string> }>().data;
        if (session === 0) assert.equal(data.user, 'alice');
        else assert.deepEqual(data, {});
      } finally {
        await server.close();
      }
    });
  }
});

describe('switching from express-session', () => {
  it('same secret and name: nobody is logged out, existing store data is read as is', async () => {
    const store = new realSession.MemoryStore();
    const before = await listen(makeApp(real, { store }));
    const client = new Client(before.url);
    await client.get('/');
    await client.get('/');
    await before.close();
    const afterSwitch = await listen(makeApp(ours, { store }));
    try {
      const again = new Client(afterSwitch.url, client.jar);
      assert.equal((await again.get('/')).body, 'views=3');
    } finally {
      await afterSwitch.close();
    }
  });
});

describe("a store's disconnect event", () => {
  it('express-session then serves requests without a session; the drop-in does not', async () => {
    for (const [label, factory, store] of [
      ['express-session', real, new realSession.MemoryStore()],
      ['drop-in', ours, new dropIn.MemoryStore()],
    ] as const) {
      const server = await listen(makeApp(factory, { store }));
      try {
        const client = new Client(server.url);
        await client.get('/');
        (store as unknown as EventEmitter).emit('disconnect');
        const reply = await client.get('/');
        if (label === 'express-session') assert.equal(reply.status, 500, 'no req.session');
        else assert.equal(reply.body, 'views=2');
      } finally {
        await server.close();
      }
    }
  });
});

describe('two cookies of the same name, a stale one first', () => {
  it('express-session reads only the first; the drop-in finds the signed one', async () => {
    for (const [label, factory] of [
      ['express-session', real],
      ['drop-in', ours],
    ] as const) {
      const server = await listen(makeApp(factory, {}));
      try {
        const client = new Client(server.url);
        await client.get('/');
        const live = client.jar.get('connect.sid')!;
        const reply = await new Client(server.url).get('/', {
          cookie: `connect.sid=s%3Astale.c2lnbmF0dXJl; connect.sid=${live}`,
        });
        assert.equal(reply.body, label === 'express-session' ? 'views=1' : 'views=2');
      } finally {
        await server.close();
      }
    }
  });
});
