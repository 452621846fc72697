/**
 * Per-user sessions over real HTTP, the same on every store with the user index: logins on
 * several "devices" (cookie jars), the devices listing, revoking one, "log out everywhere else",
 * the per-user cap under both policies, handles that are not ids, and the races that broke other
 * per-user indexes (concurrent logins, a revocation racing a login and a request in flight).
 * A store's test file calls `describeUserSessionsHttp(name, factory)`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import express, { type Express } from 'express';
import { SessionManager, type SessionManagerOptions } from '../../src/index.js';
import type { SessionEvent } from '../../src/middleware.js';
import type { SessionStore } from '../../src/types.js';
import type { UserSessionInfo } from '../../src/users.js';
import { Client, type Listening, listen } from '../helpers/http.js';
import { h } from '../helpers/routes.js';

export interface UserStoreFixture {
  store: SessionStore;
  /** Entries the backend's index holds for `userId` (live or not), to see it shrink. */
  indexSize?(userId: string): Promise<number>;
  /**
   * The store checks the user's epoch as it creates a bound session, so a login that lands after
   * a revocation is refused there (`regenerate` rejects with `SessionDestroyedError`) rather
   * than on its first request.
   */
  refusesLateLogins?: boolean;
  cleanup(): Promise<void>;
}

export type UserStoreFactory = () => Promise<UserStoreFixture>;

const SECRET = 'user-sessions test secret, long enough for production';

export interface App {
  base: string;
  sm: SessionManager;
  events: SessionEvent[];
  listening: Listening;
}

/** The routes an app with a "your devices" page needs, as JSON. */
export function userRoutes(app: Express, sm: SessionManager): void {
  app.post(
    '/login/:user',
    h(async (req, res) => {
      await sm.regenerate(req, {
        user: req.params.user as string,
        meta: { ua: req.get('user-agent') ?? '' },
      });
      await sm.set(req, 'n', 0);
      res.json({ user: sm.userId(req) });
    }),
  );
  app.get(
    '/me',
    h(async (req, res) => {
      const n = (await sm.get(req, 'n')) as number | undefined;
      if (n !== undefined) await sm.set(req, 'n', n + 1);
      res.json({ user: sm.userId(req) ?? null, n: n ?? null });
    }),
  );
  app.get(
    '/devices',
    h(async (req, res) => {
      const user = sm.userId(req);
      if (user === undefined) return void res.status(401).json({ error: 'signed out' });
      res.json(await sm.listUserSessions(user, { current: req }));
    }),
  );
  app.post(
    '/revoke/:user/:handle',
    h(async (req, res) => {
      res.json({
        revoked: await sm.destroyUserSession(
          req.params.user as string,
          req.params.handle as string,
        ),
      });
    }),
  );
  app.post(
    '/logout-others',
    h(async (req, res) => {
      const user = sm.userId(req)!;
      res.json({ count: await sm.destroyUserSessions(user, { except: req }) });
    }),
  );
  app.use(jsonErrors);
}

/** Express error handler: the typed error's status, and its code (and message) as JSON. */
export function jsonErrors(
  error: Error & { status?: number; code?: string },
  _req: express.Request,
  res: express.Response,
  _next: express.NextFunction,
): void {
  res.status(error.status ?? 500).json({ code: error.code ?? 'ERROR', message: error.message });
}

/** A manager on `store` serving the routes of {@link userRoutes} (plus `extraRoutes`). */
export async function startApp(
  store: SessionStore,
  options: Partial<SessionManagerOptions> = {},
  extraRoutes?: (app: Express, sm: SessionManager) => void,
): Promise<App> {
  const events: SessionEvent[] = [];
  const sm = new SessionManager({
    store,
    secret: SECRET,
    onEvent: (event) => events.push(event),
    ...options,
  });
  const app = express();
  app.use(sm.middleware());
  extraRoutes?.(app, sm);
  userRoutes(app, sm);
  const listening = await listen(app);
  return { base: listening.url, sm, events, listening };
}

/** A device: its own cookie jar and user agent. */
function device(base: string, name: string) {
  const client = new Client(base);
  const headers = { 'user-agent': name };
  return {
    name,
    client,
    login: (user: string) => client.request(`/login/${user}`, { method: 'POST', headers }),
    me: async () => (await client.get('/me')).json<{ user: string | null; n: number | null }>(),
    devices: async () => (await client.get('/devices')).json<UserSessionInfo[]>(),
    post: (path: string) => client.request(path, { method: 'POST', headers }),
    /** The session id in the jar's cookie (to check handles never contain it). */
    id: () => /^s:([^.]*)\./.exec(decodeURIComponent(client.jar.get('sid') ?? ''))?.[1],
  };
}

export function describeUserSessionsHttp(name: string, factory: UserStoreFactory): void {
  describe(`${name}: per-user sessions over HTTP`, { timeout: 120_000 }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    async function setup(options: Partial<SessionManagerOptions> = {}) {
      const fixture = await factory();
      const app = await startApp(fixture.store, options);
      cleanups.push(async () => {
        await app.listening.close();
        await fixture.store.close();
        await fixture.cleanup();
      });
      return { ...app, fixture };
    }

    it('lists the devices of a user, the current one marked, by handles that are not ids', async () => {
      const { base } = await setup();
      const devices = ['phone', 'laptop', 'tablet'].map((n) => device(base, n));
      for (const d of devices) assert.equal((await d.login('alice')).status, 200);
      await device(base, 'bob-phone').login('bob');
      for (const d of devices) {
        const list = await d.devices();
        assert.equal(list.length, 3, 'only alice sessions');
        assert.deepEqual(list.map((s) => s.meta.ua).sort(), ['laptop', 'phone', 'tablet']);
        const current = list.filter((s) => s.current);
        assert.equal(current.length, 1);
        assert.equal(current[0]!.meta.ua, d.name);
        for (const s of list) {
          assert.ok(s.createdAt <= s.lastSeenAt && s.lastSeenAt <= Date.now());
          assert.ok(s.expiresAt > Date.now());
        }
        const json = JSON.stringify(list);
        for (const other of devices) assert.ok(!json.includes(other.id()!), 'no id in the listing');
      }
      assert.equal(new Set((await devices[0]!.devices()).map((s) => s.handle)).size, 3);
    });

    it('revoking one device logs out that device only', async () => {
      const { base, sm } = await setup();
      const [a, b, c] = ['phone', 'laptop', 'tablet'].map((n) => device(base, n));
      for (const d of [a!, b!, c!]) await d.login('alice');
      const laptop = (await a!.devices()).find((s) => s.meta.ua === 'laptop')!;
      const reply = await a!.post(`/revoke/alice/${encodeURIComponent(laptop.handle)}`);
      assert.deepEqual(reply.json(), { revoked: true });
      assert.deepEqual(await b!.me(), { user: null, n: null });
      assert.equal((await a!.me()).user, 'alice');
      assert.equal((await c!.me()).user, 'alice');
      assert.deepEqual((await a!.devices()).map((s) => s.meta.ua).sort(), ['phone', 'tablet']);
      assert.equal(await sm.destroyUserSession('alice', laptop.handle), false, 'already gone');
    });

    it("a handle of another user's session does nothing", async () => {
      const { base } = await setup();
      const alice = device(base, 'alice-phone');
      const bob = device(base, 'bob-phone');
      await alice.login('alice');
      await bob.login('bob');
      const bobHandle = (await bob.devices())[0]!.handle;
      const reply = await alice.post(`/revoke/alice/${encodeURIComponent(bobHandle)}`);
      assert.deepEqual(reply.json(), { revoked: false });
      for (const made of ['x', bobHandle.slice(1), bob.id()!]) {
        const r = await alice.post(`/revoke/alice/${encodeURIComponent(made)}`);
        assert.deepEqual(r.json(), { revoked: false });
      }
      assert.equal((await bob.me()).user, 'bob');
      assert.equal((await alice.me()).user, 'alice');
    });

    it('"log out everywhere else" ends every other session and keeps the current one', async () => {
      const { base, events } = await setup();
      const [a, b, c] = ['phone', 'laptop', 'tablet'].map((n) => device(base, n));
      for (const d of [a!, b!, c!]) await d.login('alice');
      const bob = device(base, 'bob');
      await bob.login('bob');
      assert.deepEqual((await a!.post('/logout-others')).json(), { count: 2 });
      assert.deepEqual(events.at(-1), { type: 'user-sessions-revoked', count: 2 });
      assert.equal((await b!.me()).user, null);
      assert.equal((await c!.me()).user, null);
      for (let i = 0; i < 3; i++) assert.equal((await a!.me()).user, 'alice', 'current kept');
      const list = await a!.devices();
      assert.equal(list.length, 1);
      assert.equal(list[0]!.current, true);
      assert.equal((await bob.me()).user, 'bob', 'other users untouched');
      await b!.login('alice');
      assert.equal((await b!.me()).user, 'alice', 'a later login works');
      assert.equal((await a!.devices()).length, 2);
    });

    it("maxSessionsPerUser with 'evict-oldest' ends the user's oldest session", async () => {
      const { base, events } = await setup({ maxSessionsPerUser: 2 });
      const [a, b, c] = ['one', 'two', 'three'].map((n) => device(base, n));
      await a!.login('alice');
      await b!.login('alice');
      await device(base, 'bob').login('bob');
      assert.equal((await c!.login('alice')).status, 200);
      assert.deepEqual(events.at(-1), { type: 'user-session-evicted', count: 1 });
      assert.equal((await a!.me()).user, null, 'the oldest went');
      assert.equal((await b!.me()).user, 'alice');
      assert.equal((await c!.me()).user, 'alice');
      assert.deepEqual((await c!.devices()).map((s) => s.meta.ua).sort(), ['three', 'two']);
    });

    it("maxSessionsPerUser with 'reject' refuses the login and keeps the others", async () => {
      const { base } = await setup({ maxSessionsPerUser: 2, whenUserFull: 'reject' });
      const [a, b, c] = ['one', 'two', 'three'].map((n) => device(base, n));
      await a!.login('alice');
      await b!.login('alice');
      const refused = await c!.login('alice');
      assert.equal(refused.status, 503);
      assert.equal(refused.json<{ code: string }>().code, 'STORE_FULL');
      assert.equal(c!.client.jar.size, 0, 'no cookie for the refused login');
      assert.equal((await a!.me()).user, 'alice');
      assert.equal((await b!.me()).user, 'alice');
      assert.equal((await device(base, 'bob').login('bob')).status, 200, 'per user, not global');
    });

    it('50 concurrent logins of one user are all listed, and all revoked', async () => {
      const { base, sm } = await setup();
      const devices = Array.from({ length: 50 }, (_, i) => device(base, `d${i}`));
      const replies = await Promise.all(devices.map((d) => d.login('carol')));
      assert.ok(replies.every((r) => r.status === 200));
      const list = await sm.listUserSessions('carol');
      assert.equal(list.length, 50);
      assert.equal(new Set(list.map((s) => s.meta.ua)).size, 50);
      assert.equal(await sm.destroyUserSessions('carol'), 50);
      const after = await Promise.all(devices.map((d) => d.me()));
      assert.ok(after.every((r) => r.user === null));
      assert.deepEqual(await sm.listUserSessions('carol'), []);
    });

    it('a revocation racing logins and requests in flight leaves nothing alive that started before it', async () => {
      const { base, sm } = await setup();
      const early = Array.from({ length: 5 }, (_, i) => device(base, `early${i}`));
      for (const d of early) await d.login('dave');
      // Logins and requests start, then the revocation runs while they are in flight.
      const racing = Array.from({ length: 10 }, (_, i) => device(base, `racing${i}`));
      const inFlight = [
        ...racing.map((d) => d.login('dave')),
        ...early.map((d) => d.client.get('/me')),
      ];
      const revoked = sm.destroyUserSessions('dave');
      await Promise.all(inFlight);
      await revoked;
      // Every early session is gone; a racing login either ended or was bound after the raise.
      for (const d of early) assert.equal((await d.me()).user, null);
      const survivors = await sm.listUserSessions('dave');
      const alive = (await Promise.all(racing.map((d) => d.me()))).filter((r) => r.user);
      assert.equal(alive.length, survivors.length, 'the listing and the cookies agree');
      // A second revocation, with no race, ends the rest.
      await sm.destroyUserSessions('dave');
      for (const d of [...early, ...racing]) assert.equal((await d.me()).user, null);
    });

    it('a login whose session lands after the revocation is refused, as it lands or on its first request', async () => {
      const fixture = await factory();
      const real = fixture.store;
      let hold: Promise<void> | undefined;
      // The real store, with one login's insert held until the revocation has finished: the
      // login read the user's epoch before the revocation and its session reaches the index after
      // the revocation listed it, the case where an index alone lets a session survive.
      const store = new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property);
          if (typeof value !== 'function') return value;
          if (property === 'createForUser') {
            return async (...args: unknown[]) => {
              const gate = hold;
              hold = undefined;
              if (gate) await gate;
              return value.apply(target, args);
            };
          }
          return value.bind(target);
        },
      }) as SessionStore;
      let gateWrite: (() => void) | undefined;
      const app = await startApp(store, {}, (app, sm) => {
        app.get(
          '/slow-write',
          h(async (req, res) => {
            await new Promise<void>((resolve) => {
              gateWrite = resolve;
            });
            try {
              await sm.set(req, 'late', true);
              res.json({ wrote: true });
            } catch (error) {
              res.status(409).json({ wrote: false, code: (error as { code: string }).code });
            }
          }),
        );
      });
      cleanups.push(async () => {
        await app.listening.close();
        await real.close();
        await fixture.cleanup();
      });
      const { base, sm } = app;
      const old = device(base, 'old');
      await old.login('frank');
      let release!: () => void;
      hold = new Promise((resolve) => {
        release = resolve;
      });
      const racing = device(base, 'racing');
      const login = racing.login('frank');
      const slow = old.client.get('/slow-write');
      while (!gateWrite) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await sm.destroyUserSessions('frank'), 1, 'only the old session was indexed');
      release();
      gateWrite();
      const landed = await login;
      if (fixture.refusesLateLogins) {
        assert.equal(landed.status, 409, 'the racing login was refused as it landed');
        assert.equal(landed.json<{ code: string }>().code, 'SESSION_DESTROYED');
        assert.equal(racing.client.jar.has('sid'), false, 'and got no cookie');
      } else {
        assert.equal(landed.status, 200, 'the racing login got its cookie');
      }
      const write = await slow;
      assert.equal(write.status, 409, 'the in-flight request could not write to a revoked session');
      assert.deepEqual(write.json(), { wrote: false, code: 'SESSION_DESTROYED' });
      assert.deepEqual(await racing.me(), { user: null, n: null }, 'refused by the epoch');
      assert.deepEqual(await old.me(), { user: null, n: null }, 'not brought back');
      assert.deepEqual(await sm.listUserSessions('frank'), []);
      await racing.login('frank');
      assert.equal((await racing.me()).user, 'frank', 'a login after the revocation works');
    });

    it('expired sessions vanish from the listing and the index shrinks without a sweep', async () => {
      const { base, sm, fixture } = await setup({ maxAge: 1500, rolling: false });
      const devices = ['a', 'b', 'c'].map((n) => device(base, n));
      for (const d of devices) await d.login('erin');
      assert.equal((await sm.listUserSessions('erin')).length, 3);
      if (fixture.indexSize) assert.equal(await fixture.indexSize('erin'), 3);
      await new Promise((resolve) => setTimeout(resolve, 1700));
      assert.deepEqual(await sm.listUserSessions('erin'), []);
      if (fixture.indexSize) assert.equal(await fixture.indexSize('erin'), 0);
      await devices[0]!.login('erin');
      assert.equal((await sm.listUserSessions('erin')).length, 1);
    });
  });
}
