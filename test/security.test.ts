/**
 * Security rules over real HTTP: signatures, rotation, strict mode, expiry, floods, hostile data,
 * bad cookie headers, failing stores, cookie attributes, errors and detection events. A spy store counts every store call, so
 * "no store read" is asserted, not assumed.
 */

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type ErrorRequestHandler } from 'express';
import {
  InvalidOptionError,
  MemoryStore,
  SessionDestroyedError,
  type SessionEvent,
  SessionManager,
  type SessionManagerOptions,
  type SessionRecord,
  type SessionStore,
} from '../src/index.js';
import type { SessionChanges } from '../src/types.js';
import {
  Client,
  expiresOf,
  fetchReply,
  floodAgent,
  listen,
  pool,
  quickGet,
  type Reply,
  rawGet,
  type SetCookie,
} from './helpers/http.js';
import { addSessionWriteRoutes, h } from './helpers/routes.js';

const SECRET = 'security test secret, long enough: 0123456789abcdef';
const OLD_SECRET = 'the old secret before rotation: 1111111111111111';
const NEW_SECRET = 'the new secret after rotation: 2222222222222222';
const WEAK_SECRET = 'tiny-Q7';
const SECRETS = [SECRET, OLD_SECRET, NEW_SECRET, WEAK_SECRET];
const MINUTE = 60_000;
const HOUR = 3_600_000;
const EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** Every error the apps and the tests saw, and every session id any store saw (errors never carry either). */
const seenErrors: unknown[] = [];
const seenIds = new Set<string>();

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function macOf(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

/** The cookie value (URL-encoded, as a browser holds it) for `id` signed with `secret`. */
function cookieFor(id: string, secret = SECRET): string {
  return encodeURIComponent(`s:${id}.${macOf(id, secret)}`);
}

function idOf(cookieValue: string): string {
  return /^s:([^.]*)\./.exec(decodeURIComponent(cookieValue))![1]!;
}

type Method = 'get' | 'create' | 'update' | 'touch' | 'destroy';

/** A store that counts calls, records ids and can be told to fail; delegates to `inner`. */
class SpyStore implements SessionStore {
  readonly inner: SessionStore;
  readonly calls: Record<Method, number> = { get: 0, create: 0, update: 0, touch: 0, destroy: 0 };
  readonly failures: Partial<Record<Method, Error>> = {};
  /** How many of the next `create` calls report a collision (an id already taken). */
  collisions = 0;

  constructor(inner: SessionStore = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 })) {
    this.inner = inner;
  }

  reset(): void {
    for (const key of Object.keys(this.calls) as Method[]) this.calls[key] = 0;
    for (const key of Object.keys(this.failures) as Method[]) delete this.failures[key];
    this.collisions = 0;
  }

  #enter(method: Method, id: string): void {
    this.calls[method]++;
    if (typeof id === 'string') seenIds.add(id);
    const failure = this.failures[method];
    if (failure) throw failure;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.#enter('get', id);
    return this.inner.get(id);
  }
  async create(id: string, record: SessionRecord): Promise<boolean> {
    this.#enter('create', id);
    if (this.collisions > 0) {
      this.collisions--;
      return false;
    }
    return this.inner.create(id, record);
  }
  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    this.#enter('update', id);
    return this.inner.update(id, changes, expiresAt);
  }
  async touch(id: string, expiresAt: number): Promise<boolean> {
    this.#enter('touch', id);
    return this.inner.touch(id, expiresAt);
  }
  async destroy(id: string): Promise<void> {
    this.#enter('destroy', id);
    return this.inner.destroy(id);
  }
  all(): AsyncIterable<[string, SessionRecord]> {
    return this.inner.all();
  }
  length(): Promise<number> {
    return this.inner.length();
  }
  clear(): Promise<void> {
    return this.inner.clear();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * A store that keeps whatever it is given and never checks expiry itself — the shape of a store
 * that trusts its caller. The manager must enforce expiry on what it returns.
 */
class LaxStore implements SessionStore {
  readonly map = new Map<string, SessionRecord>();
  #copy(record: SessionRecord): SessionRecord {
    const data = Object.assign(Object.create(null), JSON.parse(JSON.stringify(record.data)));
    return { data, createdAt: record.createdAt, expiresAt: record.expiresAt };
  }
  async get(id: string) {
    const record = this.map.get(id);
    return record && this.#copy(record);
  }
  async create(id: string, record: SessionRecord) {
    if (this.map.has(id)) return false;
    this.map.set(id, this.#copy(record));
    return true;
  }
  async update(id: string, changes: SessionChanges, expiresAt: number) {
    const record = this.map.get(id);
    if (!record) return false;
    Object.assign(record.data, changes.set ?? {});
    for (const key of changes.unset ?? []) delete record.data[key];
    record.expiresAt = expiresAt;
    return true;
  }
  async touch(id: string, expiresAt: number) {
    const record = this.map.get(id);
    if (!record) return false;
    record.expiresAt = expiresAt;
    return true;
  }
  async destroy(id: string) {
    this.map.delete(id);
  }
  async *all(): AsyncGenerator<[string, SessionRecord]> {
    for (const [id, record] of this.map) yield [id, this.#copy(record)];
  }
  async length() {
    return this.map.size;
  }
  async clear() {
    this.map.clear();
  }
  async close() {}
}

const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  seenErrors.push(error);
  res.status(error.status ?? 500).json({ code: error.code ?? 'UNKNOWN' });
};

class Account {
  role = 'admin';
}
const circular: Record<string, unknown> = {};
circular.self = circular;
let deep: unknown = 1;
for (let i = 0; i < 100_000; i++) deep = { d: deep };

const HOSTILE_VALUES: Record<string, () => unknown> = {
  bigint: () => 10n,
  function: () => () => 1,
  symbol: () => Symbol('s'),
  circular: () => circular,
  nan: () => Number.NaN,
  infinity: () => Number.POSITIVE_INFINITY,
  date: () => new Date(),
  map: () => new Map([['a', 1]]),
  set: () => new Set([1]),
  'class-instance': () => new Account(),
  'nested-undefined': () => ({ a: { b: undefined } }),
  'deep-100k': () => deep,
  'nested-proto': () => JSON.parse('{"__proto__":{"isAdmin":true}}'),
  'over-maxValueBytes': () => 'x'.repeat(5000),
  'toJSON-throws': () => ({
    toJSON() {
      throw new Error('boom');
    },
  }),
};
const HOSTILE_KEYS: Record<string, unknown> = {
  proto: '__proto__',
  constructor: 'constructor',
  prototype: 'prototype',
  empty: '',
  'long-300': 'k'.repeat(300),
  number: 1,
  symbol: Symbol('k'),
  object: {},
};

interface Harness {
  manager: SessionManager;
  spy: SpyStore;
  url: string;
  port: number;
  client(): Client;
}

async function harness(
  options: Partial<SessionManagerOptions> = {},
  config: { inner?: SessionStore; server?: http.ServerOptions } = {},
): Promise<Harness> {
  const spy = new SpyStore(config.inner);
  const manager = new SessionManager({ secret: SECRET, store: spy, ...options });
  const sm = manager;
  const app = express();
  app.use(sm.middleware());
  addSessionWriteRoutes(app, sm);
  app.get(
    '/read/:key',
    h(async (req, res) => {
      const value = await sm.get(req, req.params.key as string);
      res.json({ value: value ?? null, id: req.sessionID ?? null });
    }),
  );
  app.get(
    '/login',
    h(async (req, res) => {
      const keep =
        req.query.keep === 'all'
          ? true
          : req.query.keep
            ? String(req.query.keep).split(',')
            : false;
      const id = await sm.regenerate(req, { keep });
      res.json({ id });
    }),
  );
  app.get(
    '/logout',
    h(async (req, res) => {
      await sm.destroy(req);
      res.send('bye');
    }),
  );
  app.get(
    '/slow/:op',
    h(async (req, res) => {
      await sm.get(req, 'visits');
      await sleep(300);
      try {
        if (req.params.op === 'touch') await sm.touch(req);
        else await sm.set(req, 'late', 'write');
      } catch (error) {
        if (!(error instanceof SessionDestroyedError)) throw error;
        seenErrors.push(error);
        res.status(409).json({ code: error.code });
        return;
      }
      res.json({ code: 'WRITTEN' });
    }),
  );
  app.get(
    '/hostile-value/:case',
    h(async (req, res) => {
      await sm.set(req, 'victim', HOSTILE_VALUES[req.params.case as string]!() as never);
      res.send('accepted');
    }),
  );
  app.get(
    '/hostile-key/:case',
    h(async (req, res) => {
      await sm.set(req, HOSTILE_KEYS[req.params.case as string] as string, 'evil');
      res.send('accepted');
    }),
  );
  app.get(
    '/probe',
    h(async (req, res) => {
      const polluted =
        ({} as Record<string, unknown>).isAdmin !== undefined ||
        Object.hasOwn(Object.prototype, 'isAdmin');
      res.json({
        polluted,
        isAdmin: (await sm.get(req, 'isAdmin')) ?? null,
        user: (await sm.get(req, 'user')) ?? null,
      });
    }),
  );
  app.get(
    '/write-big',
    h(async (req, res) => {
      await sm.set(req, 'big', 'x'.repeat(200_000));
      res.send('big');
    }),
  );
  app.get(
    '/write-10mb',
    h(async (req, res) => {
      await sm.set(req, 'big', 'x'.repeat(10 * 1024 * 1024));
      res.send('accepted');
    }),
  );
  app.post(
    '/read-body/:key',
    express.json(),
    h(async (req, res) => {
      const value = await sm.get(req, req.params.key as string);
      res.json({ value: value ?? null, id: req.sessionID ?? null });
    }),
  );
  app.use(errorHandler);
  const server = await listen(app, config.server);
  cleanups.push(async () => {
    await server.close();
    await manager.close();
  });
  return {
    manager,
    spy,
    url: server.url,
    port: server.port,
    client: () => new Client(server.url),
  };
}

function only(reply: Reply, name = 'sid'): SetCookie {
  const cookies = reply.cookiesNamed(name);
  assert.equal(cookies.length, 1, `one Set-Cookie for ${name}: ${reply.headers.get('set-cookie')}`);
  return cookies[0]!;
}

/** A client with a live session holding `visits: 1`; returns its cookie value and id. */
async function session(hx: Harness): Promise<{ client: Client; cookie: string; id: string }> {
  const client = hx.client();
  const reply = await client.get('/');
  assert.equal(reply.body, 'visits=1');
  const cookie = client.jar.get('sid')!;
  return { client, cookie, id: idOf(cookie) };
}

async function readWith(hx: Harness, cookieHeader: string, path = '/read/visits') {
  return fetchReply(hx.url + path, { cookie: cookieHeader });
}

// ---------------------------------------------------------------------------------------------

describe('secret validation', () => {
  it('a short secret outside production only warns (first, since the warning is once per process)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const manager = new SessionManager({ secret: WEAK_SECRET });
      await new Promise((resolve) => setImmediate(resolve));
      await manager.close();
    } finally {
      process.off('warning', onWarning);
    }
    const weak = warnings.filter(
      (w) => (w as Error & { code?: string }).code === 'SESSION_STORE_WEAK_SECRET',
    );
    assert.equal(weak.length, 1);
    assert.ok(!weak[0]!.message.includes(WEAK_SECRET));
  });

  it('a short secret throws under NODE_ENV=production', () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      for (const secret of [WEAK_SECRET, 'x'.repeat(31), [SECRET, 'weak old one']]) {
        assert.throws(
          () => new SessionManager({ secret: secret as string }),
          (error: unknown) => {
            seenErrors.push(error);
            return error instanceof InvalidOptionError && !error.message.includes('weak old one');
          },
        );
      }
      const ok = new SessionManager({ secret: 'y'.repeat(32) });
      void ok.close();
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
  });

  const missing: [string, unknown][] = [
    ['undefined', undefined],
    ['empty string', ''],
    ['empty array', []],
    ['array with an empty string', [SECRET, '']],
    ['number', 1234567890123456],
    ['object', { key: SECRET }],
    ['null', null],
    ['array with a number', [SECRET, 5]],
    ['empty Buffer', Buffer.alloc(0)],
  ];
  for (const [name, secret] of missing) {
    it(`rejects a secret that is ${name}`, () => {
      assert.throws(
        () => new SessionManager({ secret: secret as string }),
        (error: unknown) => {
          seenErrors.push(error);
          return (
            error instanceof InvalidOptionError &&
            error.code === 'INVALID_OPTION' &&
            error.message.startsWith('session-store-js: ') &&
            /secret/.test(error.message)
          );
        },
      );
    });
  }

  it('accepts a Buffer and an array of secrets', async () => {
    await new SessionManager({ secret: randomBytes(32) }).close();
    await new SessionManager({ secret: [SECRET, Buffer.from(OLD_SECRET)] }).close();
  });
});

describe('tampered signatures are anonymous, never read from the store', () => {
  it('rejects every forged, truncated, suffixed or prefixed variant', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const v = decodeURIComponent(cookie);
    const mac = v.slice(v.lastIndexOf('.') + 1);
    const otherId = (await session(hx)).id;
    const variants: [string, string][] = [
      ["v+'x'", `${v}x`],
      ["'x'+v", `x${v}`],
      ["v+'.x'", `${v}.x`],
      ["v+' ' (encoded)", `${v} `],
      ["' '+v (encoded)", ` ${v}`],
      ['garbage.+v', `garbage.${v}`],
      ['doubled separator', `s:${id}..${mac}`],
      ['two signatures', `${v}.${mac}`],
      ['truncated signature', v.slice(0, -1)],
      ['signature truncated to 10', `s:${id}.${mac.slice(0, 10)}`],
      ['padded signature', `${v}=`],
      ['empty signature', `s:${id}.`],
      ['no signature', `s:${id}`],
      ['raw unsigned id', id],
      ['no s: prefix', `${id}.${mac}`],
      ["another cookie's signature", `s:${id}.${macOf(otherId, SECRET)}`],
      [
        'signed by a secret not in the list',
        `s:${id}.${macOf(id, 'not our secret at all, 0123456789')}`,
      ],
      ['id changed by one char', `s:${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${mac}`],
      ['base64url signature', `s:${id}.${mac.replace(/\+/g, '-').replace(/\//g, '_')}!`],
      [
        'signature in other case',
        `s:${id}.${mac.toLowerCase() === mac ? mac.toUpperCase() : mac.toLowerCase()}`,
      ],
    ];
    for (const [name, value] of variants) {
      hx.spy.reset();
      const reply = await readWith(hx, `sid=${encodeURIComponent(value)}`);
      assert.deepEqual(reply.json(), { value: null, id: null }, name);
      assert.equal(hx.spy.calls.get, 0, `${name}: no store read`);
      assert.equal(reply.cookiesNamed('sid').length, 0, `${name}: no Set-Cookie on a read`);
      // a write creates a fresh id, never the presented one
      const write = await fetchReply(`${hx.url}/write/k/v`, {
        cookie: `sid=${encodeURIComponent(value)}`,
      });
      const issued = idOf(only(write).value);
      assert.notEqual(issued, id, name);
      assert.equal(hx.spy.calls.get, 0, `${name}: still no store read`);
    }
    // the genuine cookie still works and its session was never touched by the forgeries
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: 1, id });
  });

  it('the test-vector format: a quoted valid cookie is unquoted consistently (as jshttp/cookie)', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    assert.deepEqual((await readWith(hx, `sid="${cookie}"`)).json(), { value: 1, id });
    hx.spy.reset();
    assert.deepEqual((await readWith(hx, `sid="${cookie}`)).json(), { value: null, id: null });
    assert.deepEqual((await readWith(hx, `sid=${cookie}"`)).json(), { value: null, id: null });
    assert.equal(hx.spy.calls.get, 0);
  });
});

describe('secret rotation', () => {
  it('[old] → [new, old] re-issues under new → [new] alone accepts it and rejects the old cookie', async () => {
    const shared = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 });
    const a = await harness({ secret: [OLD_SECRET] }, { inner: shared });
    const b = await harness({ secret: [NEW_SECRET, OLD_SECRET] }, { inner: shared });
    const c = await harness({ secret: [NEW_SECRET] }, { inner: shared });

    const { cookie: oldCookie, id } = await session(a);
    assert.equal(decodeURIComponent(oldCookie), `s:${id}.${macOf(id, OLD_SECRET)}`);

    const fromB = await readWith(b, `sid=${oldCookie}`);
    assert.deepEqual(fromB.json(), { value: 1, id });
    const reissued = only(fromB);
    assert.equal(decodeURIComponent(reissued.value), `s:${id}.${macOf(id, NEW_SECRET)}`);
    assert.ok(expiresOf(reissued)! > Date.now());
    // no cookie issued by B verifies under [old]
    const d = await harness({ secret: [OLD_SECRET] }, { inner: shared });
    assert.deepEqual((await readWith(d, `sid=${reissued.value}`)).json(), {
      value: null,
      id: null,
    });
    assert.equal(d.spy.calls.get, 0);

    // B's fresh cookies are signed with the new secret, and a B-signed cookie needs no renewal
    const again = await readWith(b, `sid=${reissued.value}`);
    assert.equal(again.cookiesNamed('sid').length, 0);

    c.spy.reset();
    assert.deepEqual((await readWith(c, `sid=${reissued.value}`)).json(), { value: 1, id });
    assert.equal(c.spy.calls.get, 1);
    c.spy.reset();
    assert.deepEqual((await readWith(c, `sid=${oldCookie}`)).json(), { value: null, id: null });
    assert.equal(c.spy.calls.get, 0, 'a cookie of a retired secret is never looked up');
  });
});

describe('strict mode', () => {
  it('a destroyed id replayed gets a different id on the next write', async () => {
    const hx = await harness();
    const { client, cookie, id } = await session(hx);
    await client.get('/logout');
    const replay = await readWith(hx, `sid=${cookie}`);
    assert.deepEqual(replay.json(), { value: null, id: null });
    // the stale cookie is cleared
    assert.equal(only(replay).attributes.get('expires'), EPOCH);
    const write = await fetchReply(`${hx.url}/`, { cookie: `sid=${cookie}` });
    assert.equal(write.body, 'visits=1');
    const issued = idOf(only(write).value);
    assert.notEqual(issued, id);
    assert.equal(await hx.spy.inner.get(id), undefined);
  });

  it('a validly signed, attacker-chosen id never lands in the store', async () => {
    const hx = await harness();
    const attackerId = 'attackerChosenSessionId_0123456789';
    const reply = await fetchReply(`${hx.url}/write/role/user`, {
      cookie: `sid=${cookieFor(attackerId)}`,
    });
    assert.equal(hx.spy.calls.get, 1);
    const issued = idOf(only(reply).value);
    assert.notEqual(issued, attackerId);
    assert.equal(await hx.spy.inner.get(attackerId), undefined);
    for await (const [id] of hx.spy.inner.all()) assert.notEqual(id, attackerId);
    // the victim's later use of that cookie keeps being anonymous
    assert.deepEqual((await readWith(hx, `sid=${cookieFor(attackerId)}`, '/read/role')).json(), {
      value: null,
      id: null,
    });
  });
});

describe('an id collision never merges two sessions', () => {
  it('a create reporting a collision is retried with a fresh id; the existing session is untouched', async () => {
    const hx = await harness();
    const victim = await session(hx);
    hx.spy.reset();
    hx.spy.collisions = 2;
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 200);
    assert.equal(hx.spy.calls.create, 3);
    assert.equal(hx.spy.calls.update, 0, 'never writes into the session that holds the id');
    const issued = idOf(only(reply).value);
    assert.notEqual(issued, victim.id);
    assert.deepEqual({ ...(await hx.spy.inner.get(victim.id))!.data }, { visits: 1 });
  });

  it('after repeated collisions the write fails with SESSION_COLLISION and no cookie', async () => {
    const hx = await harness();
    hx.spy.collisions = 100;
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 500);
    assert.deepEqual(reply.json(), { code: 'SESSION_COLLISION' });
    assert.equal(reply.cookies.length, 0);
  });
});

describe('cookie size, cookie-only exchange, size cap', () => {
  it('the cookie does not grow with the session data', async () => {
    const hx = await harness();
    const client = hx.client();
    const small = only(await client.get('/'));
    const big = only(await client.get('/write-big'));
    assert.equal(big.value, small.value);
    assert.ok(big.raw.length < 200, `${big.raw.length} bytes`);
  });

  it('a session id in a JSON body field is ignored', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    hx.spy.reset();
    for (const body of [{ sid: decodeURIComponent(cookie) }, { sid: id }, { sessionID: id }]) {
      const response = await fetch(`${hx.url}/read-body/visits`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.deepEqual(await response.json(), { value: null, id: null });
    }
    assert.equal(hx.spy.calls.get, 0);
  });

  it('a 10 MB value is refused with SESSION_TOO_LARGE by default, the old value kept', async () => {
    const hx = await harness();
    const { client } = await session(hx);
    const reply = await client.get('/write-10mb');
    assert.equal(reply.status, 413);
    assert.deepEqual(reply.json(), { code: 'SESSION_TOO_LARGE' });
    assert.equal((await client.get('/read/visits')).json<{ value: number }>().value, 1);
    assert.equal((await client.get('/read/big')).json<{ value: null }>().value, null);
  });
});

describe('regenerate after login, and logout', () => {
  it('moves to a new id, destroys the old one, and carries only the kept keys', async () => {
    const hx = await harness();
    const client = hx.client();
    await client.get('/write/a/1');
    await client.get('/write/b/2');
    const oldCookie = client.jar.get('sid')!;
    const oldId = idOf(oldCookie);

    const login = await client.get('/login?keep=a');
    const newId = login.json<{ id: string }>().id;
    assert.notEqual(newId, oldId);
    assert.equal(idOf(only(login).value), newId);
    assert.equal(await hx.spy.inner.get(oldId), undefined);
    assert.deepEqual((await client.get('/read/a')).json(), { value: '1', id: newId });
    assert.deepEqual((await client.get('/read/b')).json(), { value: null, id: newId });
    // replaying the pre-login cookie is anonymous
    assert.deepEqual((await readWith(hx, `sid=${oldCookie}`, '/read/a')).json(), {
      value: null,
      id: null,
    });

    await client.get('/write/b/3');
    const all = await client.get('/login?keep=all');
    const allId = all.json<{ id: string }>().id;
    assert.notEqual(allId, newId);
    assert.equal((await client.get('/read/a')).json<{ value: string }>().value, '1');
    assert.equal((await client.get('/read/b')).json<{ value: string }>().value, '3');

    const none = await client.get('/login');
    assert.notEqual(none.json<{ id: string }>().id, allId);
    assert.equal((await client.get('/read/a')).json<{ value: null }>().value, null);
    assert.equal(await hx.spy.inner.length(), 1);
  });

  it('regenerate for an anonymous visitor creates a session; keep of unknown keys is harmless', async () => {
    const hx = await harness();
    const client = hx.client();
    const login = await client.get('/login?keep=toString,__proto__,missing');
    const id = login.json<{ id: string }>().id;
    assert.equal(idOf(only(login).value), id);
    const record = await hx.spy.inner.get(id);
    assert.deepEqual(Object.keys(record!.data), []);
  });

  it('logout destroys the session server-side even if the client keeps its cookie', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const logout = await fetchReply(`${hx.url}/logout`, { cookie: `sid=${cookie}` });
    const cleared = only(logout);
    assert.equal(cleared.value, '');
    assert.equal(cleared.attributes.get('expires'), EPOCH);
    assert.equal(await hx.spy.inner.get(id), undefined);
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
  });
});

describe('no resurrection', () => {
  for (const op of ['set', 'touch']) {
    it(`a ${op} after a concurrent logout rejects SESSION_DESTROYED and writes nothing`, async () => {
      const hx = await harness();
      const { cookie, id } = await session(hx);
      const slow = fetchReply(`${hx.url}/slow/${op}`, { cookie: `sid=${cookie}` });
      await sleep(50);
      const logout = await fetchReply(`${hx.url}/logout`, { cookie: `sid=${cookie}` });
      assert.equal(logout.status, 200);
      const late = await slow;
      assert.equal(late.status, 409);
      assert.deepEqual(late.json(), { code: 'SESSION_DESTROYED' });
      // the late response carries no live cookie (only, at most, a clearing one)
      for (const c of late.cookiesNamed('sid')) assert.equal(c.value, '');
      assert.equal(await hx.spy.inner.get(id), undefined);
      assert.equal(await hx.spy.inner.length(), 0);
      assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
    });
  }
});

describe('expiry enforced server-side (mocked Date)', () => {
  it('idle timeout: alive before maxAge, anonymous after, and a new id on write', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const hx = await harness({ maxAge: 10 * MINUTE, rolling: false });
    const { cookie, id } = await session(hx);
    t.mock.timers.tick(10 * MINUTE - 1000);
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: 1, id });
    t.mock.timers.tick(2000);
    // the browser still holds the cookie (its Expires would be far in the future): no help
    const expired = await readWith(hx, `sid=${cookie}`);
    assert.deepEqual(expired.json(), { value: null, id: null });
    const write = await fetchReply(`${hx.url}/`, { cookie: `sid=${cookie}` });
    assert.equal(write.body, 'visits=1');
    assert.notEqual(idOf(only(write).value), id);
  });

  it('activity renews the idle timeout, but never past the absolute cap', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 10 * MINUTE, absoluteTimeout: 30 * MINUTE });
    const client = hx.client();
    await client.get('/');
    const id = idOf(client.jar.get('sid')!);
    for (let minute = 5; minute < 30; minute += 5) {
      t.mock.timers.tick(5 * MINUTE);
      const reply = await client.get('/');
      assert.match(reply.body, /^visits=\d+$/);
      assert.equal(idOf(client.jar.get('sid')!), id, `alive at ${minute} min`);
      for (const c of reply.cookiesNamed('sid')) {
        assert.ok(expiresOf(c)! <= start + 30 * MINUTE + 1000, 'Expires never beyond the cap');
      }
    }
    t.mock.timers.tick(5 * MINUTE + 1000);
    const cookie = client.jar.get('sid')!;
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
  });

  it('a new manager instance sharing the store enforces its own maxAge on old sessions (CVE-2024-35220 shape)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const lax = new LaxStore();
    const a = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    const { cookie, id } = await session(a);
    t.mock.timers.tick(11 * MINUTE);
    // the store still returns the record; a restarted app must not honour it
    assert.ok(lax.map.has(id));
    const b = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    assert.deepEqual((await readWith(b, `sid=${cookie}`)).json(), { value: null, id: null });
    assert.equal(lax.map.has(id), false, 'the expired record is removed');
    const write = await fetchReply(`${b.url}/`, { cookie: `sid=${cookie}` });
    assert.notEqual(idOf(only(write).value), id);
  });

  it('a new manager with absoluteTimeout refuses an old but active session of the same store', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const lax = new LaxStore();
    const a = await harness({ maxAge: 10 * MINUTE }, { inner: lax });
    const { client, id } = await session(a);
    for (let i = 0; i < 8; i++) {
      t.mock.timers.tick(5 * MINUTE);
      await client.get('/');
    }
    assert.equal(idOf(client.jar.get('sid')!), id, 'kept alive 40 min by activity');
    const b = await harness({ maxAge: 10 * MINUTE, absoluteTimeout: 30 * MINUTE }, { inner: lax });
    assert.deepEqual((await readWith(b, `sid=${client.jar.get('sid')}`)).json(), {
      value: null,
      id: null,
    });
  });

  it('a record whose store-side expiry is absurdly far in the future is not honoured', async () => {
    const lax = new LaxStore();
    const id = 'farFutureSessionId_0123456789abcd';
    const now = Date.now();
    await lax.create(id, {
      data: Object.assign(Object.create(null), { user: 'x' }),
      createdAt: now,
      expiresAt: now + 10 * 365 * 24 * HOUR,
    });
    const hx = await harness({ maxAge: HOUR }, { inner: lax });
    assert.deepEqual((await readWith(hx, `sid=${cookieFor(id)}`, '/read/user')).json(), {
      value: null,
      id: null,
    });
  });
});

describe('clock steps (mocked Date)', () => {
  it('+1 h expires idle sessions; −1 h revives neither a destroyed nor an expired session', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 30 * MINUTE, absoluteTimeout: 2 * HOUR });
    const destroyed = await session(hx);
    await destroyed.client.get('/logout');
    const expired = await session(hx);
    const probe = await session(hx);
    t.mock.timers.setTime(start + HOUR);
    assert.deepEqual((await readWith(hx, `sid=${probe.cookie}`)).json(), { value: null, id: null });
    // `expired` was never requested after it expired, so nothing has removed it yet
    t.mock.timers.setTime(start - HOUR);
    for (const { cookie } of [destroyed, expired]) {
      assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: null, id: null });
    }
  });

  it('after −1 h, a session is still refused at createdAt + absoluteTimeout', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const start = Date.now();
    const hx = await harness({ maxAge: 20 * MINUTE, absoluteTimeout: 30 * MINUTE });
    const { client, id } = await session(hx);
    t.mock.timers.setTime(start - 30 * 1000);
    await client.get('/');
    for (let minute = 5; minute <= 25; minute += 5) {
      t.mock.timers.setTime(start + minute * MINUTE);
      await client.get('/');
      assert.equal(idOf(client.jar.get('sid')!), id);
    }
    t.mock.timers.setTime(start + 30 * MINUTE + 1000);
    assert.deepEqual((await readWith(hx, `sid=${client.jar.get('sid')}`)).json(), {
      value: null,
      id: null,
    });
  });
});

describe('rolling renewal is throttled by touchAfter (mocked Date)', () => {
  it('a read renews the expiry only once touchAfter has passed', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const hx = await harness({ maxAge: HOUR, touchAfter: 10 * MINUTE });
    const { cookie, id } = await session(hx);
    const created = (await hx.spy.inner.get(id))!.expiresAt;
    hx.spy.reset();
    t.mock.timers.tick(5 * MINUTE);
    const early = await readWith(hx, `sid=${cookie}`);
    assert.equal(early.cookiesNamed('sid').length, 0);
    assert.equal(hx.spy.calls.touch, 0);
    assert.equal((await hx.spy.inner.get(id))!.expiresAt, created);
    t.mock.timers.tick(6 * MINUTE);
    const late = await readWith(hx, `sid=${cookie}`);
    const renewed = only(late);
    assert.equal(hx.spy.calls.touch, 1);
    assert.equal((await hx.spy.inner.get(id))!.expiresAt, Date.now() + HOUR);
    assert.equal(expiresOf(renewed), Math.floor((Date.now() + HOUR) / 1000) * 1000);
    assert.equal(renewed.value, cookie);
  });
});

describe('concurrent key-level writes', () => {
  it('50 parallel requests each setting k{i} of one session all land', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetchReply(`${hx.url}/write/k${i}/${i}`, { cookie: `sid=${cookie}` }),
      ),
    );
    for (const reply of replies) assert.equal(reply.status, 200);
    const data = (await hx.spy.inner.get(id))!.data;
    for (let i = 0; i < 50; i++) assert.equal(data[`k${i}`], String(i), `k${i}`);
    assert.equal(data.visits, 1);
    assert.equal(await hx.spy.inner.length(), 1);
  });
});

describe('hostile keys and non-JSON values', () => {
  it('are rejected with a typed error and the old value is kept', async () => {
    const hx = await harness({ maxValueBytes: 1000 });
    const client = hx.client();
    await client.get('/write/victim/old');
    const id = idOf(client.jar.get('sid')!);
    for (const name of Object.keys(HOSTILE_VALUES)) {
      const reply = await client.get(`/hostile-value/${name}`);
      const expected =
        name === 'over-maxValueBytes' ? [413, 'SESSION_TOO_LARGE'] : [400, 'INVALID_SESSION_DATA'];
      assert.equal(reply.status, expected[0], name);
      assert.deepEqual(reply.json(), { code: expected[1] }, name);
      assert.equal((await client.get('/read/victim')).json<{ value: string }>().value, 'old', name);
    }
    for (const name of Object.keys(HOSTILE_KEYS)) {
      const reply = await client.get(`/hostile-key/${name}`);
      assert.equal(reply.status, 400, name);
      assert.deepEqual(reply.json(), { code: 'INVALID_SESSION_DATA' }, name);
    }
    const data = (await hx.spy.inner.get(id))!.data;
    assert.deepEqual(Object.keys(data), ['victim']);
    assert.equal(data.victim, 'old');
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });

  it('a rejected first write creates no session and sends no cookie', async () => {
    const hx = await harness();
    const client = hx.client();
    for (const name of ['bigint', 'circular', 'deep-100k']) {
      const reply = await client.get(`/hostile-value/${name}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.cookies.length, 0);
    }
    assert.equal(hx.spy.calls.create, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('get of Object.prototype member names returns undefined', async () => {
    const hx = await harness();
    const { client } = await session(hx);
    for (const key of [
      'toString',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      '__proto__',
      'isPrototypeOf',
    ]) {
      assert.deepEqual((await client.get(`/read/${key}`)).json<{ value: null }>().value, null, key);
    }
  });

  it('a __proto__ key stored directly in the store is inert', async () => {
    const hx = await harness();
    const id = 'storedProtoSessionId_0123456789ab';
    const now = Date.now();
    const data = Object.assign(
      Object.create(null),
      JSON.parse('{"__proto__":{"isAdmin":true},"user":"mallory"}'),
    );
    assert.ok(await hx.spy.inner.create(id, { data, createdAt: now, expiresAt: now + HOUR }));
    const probe = await readWith(hx, `sid=${cookieFor(id)}`, '/probe');
    assert.deepEqual(probe.json(), { polluted: false, isAdmin: null, user: 'mallory' });
    const listing = await hx.manager.getAllSessions();
    assert.equal((listing[id] as Record<string, unknown>).isAdmin, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  });
});

describe('floods cost nothing', () => {
  it('10,000 cookie-less requests: 0 store entries, 0 store reads, 0 Set-Cookie', async () => {
    const hx = await harness();
    const agent = floodAgent();
    let setCookies = 0;
    let ok = 0;
    await pool(10_000, 50, async () => {
      const reply = await quickGet(`${hx.url}/read/visits`, {}, agent);
      if (reply.status === 200) ok++;
      setCookies += reply.setCookies.length;
    });
    agent.destroy();
    assert.equal(ok, 10_000);
    assert.equal(setCookies, 0);
    assert.deepEqual(hx.spy.calls, { get: 0, create: 0, update: 0, touch: 0, destroy: 0 });
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('1,000 requests with random forged cookies: 0 entries, 0 store reads', async () => {
    const hx = await harness();
    const agent = floodAgent();
    let setCookies = 0;
    await pool(1000, 50, async (i) => {
      const id = randomBytes(24).toString('base64url');
      const fakeMac = randomBytes(32).toString('base64').replace(/=+$/, '');
      const shapes = [
        `s:${id}.${fakeMac}`,
        `s:${id}.${macOf(id, `guess-${i}`)}`,
        `${id}.${fakeMac}`,
        randomBytes(40).toString('base64'),
        `s:${id}`,
      ];
      const value = encodeURIComponent(shapes[i % shapes.length]!);
      const reply = await quickGet(`${hx.url}/read/visits`, { cookie: `sid=${value}` }, agent);
      assert.equal(reply.status, 200);
      setCookies += reply.setCookies.length;
    });
    agent.destroy();
    assert.equal(setCookies, 0);
    assert.equal(hx.spy.calls.get, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });
});

describe('bad cookie headers', () => {
  let hx: Harness;
  let valid: string;
  let validId: string;

  async function expectAnonymous(lines: string[], label: string, path = '/read/visits') {
    hx.spy.reset();
    const reply = await rawGet(hx.port, path, lines);
    assert.equal(reply.status, 200, `${label}: ${reply.head.split('\r\n')[0]}`);
    assert.deepEqual(JSON.parse(reply.body), { value: null, id: null }, label);
    assert.equal(hx.spy.calls.get, 0, `${label}: no store read`);
    assert.equal(reply.setCookies.length, 0, `${label}: no Set-Cookie`);
  }

  async function expectValid(lines: string[], label: string) {
    const reply = await rawGet(hx.port, '/read/visits', lines);
    assert.equal(reply.status, 200, label);
    assert.deepEqual(JSON.parse(reply.body), { value: 1, id: validId }, label);
  }

  it('setup: a server accepting large headers, and one live session', async () => {
    hx = await harness({}, { server: { maxHeaderSize: 256 * 1024 } });
    const s = await session(hx);
    valid = s.cookie;
    validId = s.id;
  });

  it('empty, valueless and malformed cookies are anonymous', async () => {
    await expectAnonymous([], 'no Cookie header');
    await expectAnonymous(['Cookie: '], 'empty Cookie');
    await expectAnonymous(['Cookie: sid='], 'sid=');
    await expectAnonymous(['Cookie: sid'], 'sid without =');
    await expectAnonymous(['Cookie: sid=%E0%A4%A'], 'malformed escape');
    await expectAnonymous(['Cookie: sid=%'], 'lone %');
    await expectAnonymous([`Cookie: sid=%3C${valid}`], 'percent-encoded junk prefix');
    await expectAnonymous([`Cookie: sid=${'%'.repeat(15_000)}`], "sid= + '%' × 15000");
    await expectAnonymous([`Cookie: sid=${'%E0%A4%A'.repeat(1500)}`], 'many malformed escapes');
  });

  it('a NUL after decoding is refused before the store', async () => {
    const nulId = `abc\0def${'a'.repeat(24)}`;
    const value = encodeURIComponent(`s:${nulId}.${macOf(nulId, SECRET)}`);
    assert.match(value, /%00/);
    await expectAnonymous([`Cookie: sid=${value}`], 'signed id with NUL');
    await expectAnonymous([`Cookie: sid=s%3Aabc%00def.${macOf('abc', SECRET)}`], 'NUL, bad mac');
  });

  it('a correctly signed path-traversal id fails the format check → anonymous', async () => {
    const traversal = '../../etc/passwd';
    const value = encodeURIComponent(`s:${traversal}.${macOf(traversal, SECRET)}`);
    assert.match(value, /\.\.%2F\.\.%2Fetc%2Fpasswd/);
    await expectAnonymous([`Cookie: sid=${value}`], 'path traversal');
    for (const id of [
      '..',
      'a/b/c/d/e/f/g/h/i/j/k/l/m',
      `${'a'.repeat(30)}.json`,
      'a'.repeat(300),
    ]) {
      await expectAnonymous([`Cookie: sid=${cookieFor(id)}`], JSON.stringify(id));
    }
  });

  it('15 KB of a=b; pairs: anonymous, and the session is still found after them', async () => {
    const junk = 'a=b; '.repeat(3000);
    await expectAnonymous([`Cookie: ${junk}`], '15 KB of pairs');
    await expectValid([`Cookie: ${junk}sid=${valid}`], '15 KB then sid');
  });

  it('8,000 duplicate names and 5,000 empty pairs do not crash and stay anonymous', async () => {
    await expectAnonymous([`Cookie: ${'sid=x; '.repeat(8000)}`], '8000 duplicates');
    await expectAnonymous([`Cookie: ${';'.repeat(20_000)}`], ';;;; × 5000');
    await expectAnonymous([`Cookie: sid${';'.repeat(20_000)}`], 'name then ;;;;');
    await expectValid([`Cookie: ${';'.repeat(20_000)}sid=${valid}`], ';;;; then sid');
  });

  it('duplicate names: the correctly signed one is used, in either order', async () => {
    await expectValid([`Cookie: sid=junk; sid=${valid}`], 'junk first');
    await expectValid([`Cookie: sid=${valid}; sid=junk`], 'valid first');
    await expectValid(
      [`Cookie: sid=${cookieFor(validId, 'wrong secret, 0123456789abcdef')}; sid=${valid}`],
      'forged first',
    );
    await expectValid(['Cookie: sid=junk', `Cookie: sid=${valid}`], 'two Cookie headers');
  });

  it('duplicate names: a correctly signed but stale cookie does not hide the live one', async () => {
    const staleId = randomBytes(24).toString('base64url');
    const stale = cookieFor(staleId);
    await expectValid([`Cookie: sid=${stale}; sid=${valid}`], 'stale first');
    await expectValid([`Cookie: sid=${valid}; sid=${stale}`], 'stale last');
  });

  it('look-alike names are not ours: Unicode-space prefixes and other case', async () => {
    await expectAnonymous([`Cookie: \u00A0sid=${valid}`], 'NBSP prefix');
    const enSpace = Buffer.from('\u2000', 'utf8').toString('latin1');
    await expectAnonymous([`Cookie: ${enSpace}sid=${valid}`], 'U+2000 prefix (UTF-8 bytes)');
    await expectAnonymous([`Cookie: SID=${valid}`], 'upper case');
    await expectAnonymous([`Cookie: Sid=${valid}`], 'mixed case');
    await expectAnonymous([`Cookie: s%69d=${valid}`], 'encoded name');
    await expectAnonymous([`Cookie: sid\u00A0=${valid}`], 'NBSP suffix');
  });

  it('cookie names that are Object.prototype members do not pollute or crash', async () => {
    const names = '__proto__=1; constructor=2; hasOwnProperty=3; toString=4; valueOf=5';
    await expectAnonymous([`Cookie: ${names}`], 'prototype names');
    await expectValid([`Cookie: ${names}; sid=${valid}`], 'prototype names then sid');
    await expectAnonymous([`Cookie: __proto__=${valid}`], 'our value under __proto__');
    const headerReply = await rawGet(hx.port, '/read/visits', ['__proto__: x', 'constructor: y']);
    assert.equal(headerReply.status, 200);
    assert.equal(({} as Record<string, unknown>).sid, undefined);
  });

  it('session ids in the query string or other headers are ignored', async () => {
    for (const path of [
      `/read/visits?sid=${valid}`,
      `/read/visits?sid=${validId}`,
      `/read/visits?sessionID=${validId}`,
    ]) {
      await expectAnonymous([], path, path);
    }
    await expectAnonymous([`X-Session-Id: ${validId}`], 'X-Session-Id id');
    await expectAnonymous([`X-Session-Id: ${valid}`], 'X-Session-Id signed');
    await expectAnonymous([`Authorization: Bearer ${valid}`], 'Authorization');
  });

  it('CR in a Cookie header is refused by Node (400) and the server keeps serving', async () => {
    const reply = await rawGet(hx.port, '/read/visits', [`Cookie: sid=${valid}\rX: y`]);
    assert.equal(reply.status, 400);
    await expectValid([`Cookie: sid=${valid}`], 'after the bad request');
  });

  it('a 20 KB header gets 431 from Node and the server keeps serving', async () => {
    const small = await harness();
    const { cookie, id } = await session(small);
    const reply = await rawGet(small.port, '/read/visits', [
      `Cookie: sid=${cookie}; pad=${'x'.repeat(20 * 1024)}`,
    ]);
    assert.equal(reply.status, 431);
    assert.deepEqual((await readWith(small, `sid=${cookie}`)).json(), { value: 1, id });
  });

  it('__Host- names: look-alikes are not ours', async () => {
    const host = await harness({ cookieName: '__Host-sid' });
    const client = host.client();
    const first = await client.get('/');
    const cookie = only(first, '__Host-sid');
    assert.equal(cookie.attributes.get('secure'), true);
    assert.equal(cookie.attributes.get('path'), '/');
    assert.equal(cookie.attributes.has('domain'), false);
    const value = cookie.value;
    const id = idOf(value);
    const check = async (line: string, expected: unknown) => {
      const reply = await rawGet(host.port, '/read/visits', [line]);
      assert.deepEqual(JSON.parse(reply.body), expected, line);
    };
    await check(`Cookie: __Host-sid=${value}`, { value: 1, id });
    await check(`Cookie: __host-sid=${value}`, { value: null, id: null });
    await check(`Cookie: __HOST-sid=${value}`, { value: null, id: null });
    await check(`Cookie: ${Buffer.from('\u2000', 'utf8').toString('latin1')}__Host-sid=${value}`, {
      value: null,
      id: null,
    });
    await check(`Cookie: sid=${value}`, { value: null, id: null });
  });

  it('a cookie name that is an Object.prototype member works as a plain name', async () => {
    const odd = await harness({ cookieName: 'constructor' });
    const client = odd.client();
    await client.get('/');
    assert.ok(client.jar.has('constructor'));
    assert.equal((await client.get('/')).body, 'visits=2');
    assert.deepEqual((await readWith(odd, 'hasOwnProperty=1')).json(), { value: null, id: null });
  });
});

describe('a failing store fails closed', () => {
  const down = () => new Error('connect ECONNREFUSED 127.0.0.1:6379');

  it('get rejects → 503, never another session; cookie-less requests still work', async () => {
    const hx = await harness();
    const { cookie } = await session(hx);
    hx.spy.failures.get = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookiesNamed('sid').length, 0, 'the cookie is not cleared on an outage');
    const anonymous = await fetchReply(`${hx.url}/read/visits`);
    assert.equal(anonymous.status, 200);
    hx.spy.reset();
    assert.equal((await readWith(hx, `sid=${cookie}`)).json<{ value: number }>().value, 1);
  });

  it('update rejects → set rejects STORE_UNAVAILABLE and the old value is kept', async () => {
    const hx = await harness();
    const { client, id } = await session(hx);
    hx.spy.failures.update = down();
    const reply = await client.get('/write/visits/99');
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookies.length, 0);
    assert.equal((await hx.spy.inner.get(id))!.data.visits, 1);
  });

  it('create rejects → no Set-Cookie for the session that does not exist (persist, then send)', async () => {
    const hx = await harness();
    hx.spy.failures.create = down();
    const reply = await fetchReply(`${hx.url}/write/k/v`);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.json(), { code: 'STORE_UNAVAILABLE' });
    assert.equal(reply.cookies.length, 0);
    assert.equal(await hx.spy.inner.length(), 0);
  });

  it('touch rejects during a rolling renewal → the read goes on with the session as loaded, no renewed cookie', async () => {
    const hx = await harness({ touchAfter: 0 });
    const { cookie } = await session(hx);
    await sleep(5);
    hx.spy.failures.touch = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.equal(reply.status, 200);
    assert.equal(reply.json<{ value: number }>().value, 1);
    assert.equal(reply.cookiesNamed('sid').length, 0);
  });

  it('destroy rejects → logout reports the failure and the session is not pretended gone', async () => {
    const hx = await harness();
    const { client, id } = await session(hx);
    hx.spy.failures.destroy = down();
    const reply = await client.get('/logout');
    assert.equal(reply.status, 503);
    assert.ok(await hx.spy.inner.get(id));
  });

  it('the store error message does not leak the cause into the response', async () => {
    const hx = await harness();
    const { cookie } = await session(hx);
    hx.spy.failures.get = down();
    const reply = await readWith(hx, `sid=${cookie}`);
    assert.doesNotMatch(reply.body, /ECONNREFUSED|6379/);
  });
});

describe('cookie attributes', () => {
  it('HttpOnly, SameSite=Lax, Path=/, no Secure on plain HTTP outside production', async () => {
    const hx = await harness();
    const reply = await hx.client().get('/');
    const cookie = only(reply);
    assert.equal(cookie.attributes.get('httponly'), true);
    assert.equal(cookie.attributes.get('samesite'), 'Lax');
    assert.equal(cookie.attributes.get('path'), '/');
    assert.equal(cookie.attributes.has('secure'), false);
    assert.equal(cookie.attributes.has('domain'), false);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  });

  it('Secure under NODE_ENV=production, even on plain HTTP', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    let hx: Harness;
    try {
      hx = await harness();
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
    const client = hx.client();
    assert.equal(only(await client.get('/')).attributes.get('secure'), true);
    assert.equal(only(await client.get('/logout')).attributes.get('secure'), true);
  });

  it('Secure with cookie: { secure: true }', async () => {
    const hx = await harness({ cookie: { secure: true } });
    assert.equal(only(await hx.client().get('/')).attributes.get('secure'), true);
  });

  const injections: [string, Partial<SessionManagerOptions>][] = [
    ["cookieName 'a;b'", { cookieName: 'a;b' }],
    ['cookieName with CR/LF', { cookieName: 'sid\r\nSet-Cookie: admin=1' }],
    ['cookieName with =', { cookieName: 'sid=x' }],
    ["cookie.path '/;x'", { cookie: { path: '/;x' } }],
    ['cookie.path with CR/LF', { cookie: { path: '/\r\nx' } }],
    ['cookie.domain with ;', { cookie: { domain: 'example.com; Secure' } }],
    ['cookie.domain with CR/LF', { cookie: { domain: 'example.com\r\nx' } }],
    ['__Host- with a domain', { cookieName: '__Host-sid', cookie: { domain: 'example.com' } }],
    ['__Host- with a path', { cookieName: '__Host-sid', cookie: { path: '/app' } }],
    ['__Host- without secure', { cookieName: '__Host-sid', cookie: { secure: false } }],
    ['__Secure- without secure', { cookieName: '__Secure-sid', cookie: { secure: false } }],
    ['SameSite=None without secure', { cookie: { sameSite: 'none', secure: false } }],
    [
      'cookie.path over 1024 octets (browsers ignore it)',
      { cookie: { path: `/${'a'.repeat(1024)}` } },
    ],
    ['cookie.domain over 1024 octets', { cookie: { domain: `${'a.'.repeat(520)}com` } }],
  ];
  for (const [name, options] of injections) {
    it(`refuses ${name} with InvalidOptionError`, () => {
      assert.throws(
        () => new SessionManager({ secret: SECRET, ...options }),
        (error: unknown) => {
          seenErrors.push(error);
          return error instanceof InvalidOptionError && error.code === 'INVALID_OPTION';
        },
      );
    });
  }
});

describe('errors never carry a session id or a secret', () => {
  it('checks every error seen in this file', async () => {
    // a few more, from the API directly
    const hx = await harness();
    const { cookie, id } = await session(hx);
    hx.spy.failures.update = new Error(`backend said no for ${id}`);
    const reply = await fetchReply(`${hx.url}/write/k/v`, { cookie: `sid=${cookie}` });
    assert.equal(reply.status, 503);
    assert.ok(!reply.body.includes(id));
    assert.ok(seenErrors.length > 20, `collected ${seenErrors.length} errors`);
    for (const error of seenErrors) {
      assert.ok(error instanceof Error);
      for (const secret of SECRETS) {
        assert.ok(!error.message.includes(secret), `secret in: ${error.message}`);
      }
      for (const seen of seenIds) {
        assert.ok(!error.message.includes(seen), `session id in: ${error.message}`);
      }
    }
  });
});

describe('detection events', () => {
  it('counts invalid signatures, unknown sessions and duplicate cookies, without ids', async () => {
    const events: SessionEvent[] = [];
    const hx = await harness({
      onEvent: (event) => {
        events.push(event);
        throw new Error('an observer that throws must not break the request');
      },
    });
    const count = (type: SessionEvent['type']) => events.filter((e) => e.type === type).length;
    const agent = floodAgent();
    await pool(1000, 50, async () => {
      const id = randomBytes(24).toString('base64url');
      const reply = await quickGet(
        `${hx.url}/read/visits`,
        { cookie: `sid=${cookieFor(id, 'not the secret, 0123456789abcdef')}` },
        agent,
      );
      assert.equal(reply.status, 200);
    });
    agent.destroy();
    assert.equal(count('invalid-signature'), 1000);
    assert.equal(events.length, 1000);

    // A correctly signed id the store never issued: strict mode refuses it, and says so.
    const unknown = randomBytes(24).toString('base64url');
    assert.equal((await readWith(hx, `sid=${cookieFor(unknown)}`)).status, 200);
    assert.equal(count('unknown-session'), 1);

    // Cookie tossing: two cookies of our name; the live one still wins.
    const { cookie } = await session(hx);
    const reply = await readWith(hx, `sid=junk; sid=${cookie}`);
    assert.equal(reply.json<{ value: number }>().value, 1);
    assert.equal(count('duplicate-cookie'), 1);
    assert.equal(count('invalid-signature'), 1001);
    for (const event of events) assert.deepEqual(Object.keys(event), ['type']);
  });

  it('refuses an onEvent that is not a function', () => {
    assert.throws(
      () => new SessionManager({ secret: SECRET, onEvent: 'log' as never }),
      InvalidOptionError,
    );
  });
});
