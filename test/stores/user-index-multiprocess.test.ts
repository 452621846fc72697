/**
 * Per-user sessions across two app processes sharing one store — Redis, FileStore with
 * `multiProcess`, PostgreSQL: a device signed in on one process is listed and revoked from the
 * other, concurrent logins through both are all listed, a cap holds across both, and a
 * revocation racing logins on the other process leaves no session alive that the listing misses.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import type { UserSessionInfo } from '../../src/users.js';
import { removeDir, tempDir } from '../helpers/file-store.js';
import { Client } from '../helpers/http.js';
import {
  DATABASE_URL,
  dropTable,
  pgSkipReason,
  randomTable,
  testPool,
} from '../helpers/postgres.js';
import { deleteKeys, REDIS_URL, randomPrefix, redisSkipReason } from '../helpers/redis.js';
import { type App, startApp as startTwinApp, stopApp as stop } from './processes.js';

const fixture = resolve(import.meta.dirname, '../fixtures/users-app.ts');

const startApp = (env: Record<string, string>) => startTwinApp(fixture, env);

/** A browser: one cookie jar, used against either process (the cookie works on both). */
class Device {
  readonly jar = new Map<string, string>();
  constructor(readonly name: string) {}
  on(app: App): Client {
    return new Client(app.url, this.jar);
  }
  async login(app: App, user: string): Promise<number> {
    const reply = await this.on(app).request(`/login/${user}`, {
      method: 'POST',
      headers: { 'user-agent': this.name },
    });
    return reply.status;
  }
  async user(app: App): Promise<string | null> {
    return (await this.on(app).get('/me')).json<{ user: string | null }>().user;
  }
  async devices(app: App): Promise<UserSessionInfo[]> {
    return (await this.on(app).get('/devices')).json<UserSessionInfo[]>();
  }
}

interface Backend {
  name: string;
  skip: string | undefined;
  setup(): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'Redis',
    skip: await redisSkipReason(),
    async setup() {
      const prefix = randomPrefix('users-mp');
      return {
        env: { STORE: 'redis', REDIS_URL, PREFIX: prefix },
        async cleanup() {
          const client = createClient({ url: REDIS_URL });
          await client.connect();
          await deleteKeys((...args) => client.sendCommand(args), prefix);
          await client.close();
        },
      };
    },
  },
  {
    name: 'FileStore (multiProcess)',
    skip: undefined,
    async setup() {
      const root = await tempDir();
      return {
        env: { STORE: 'file', DIR: join(root, 'sessions') },
        cleanup: () => removeDir(root),
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: await pgSkipReason(),
    async setup() {
      const table = randomTable('users_mp');
      return {
        env: { STORE: 'postgres', DATABASE_URL, TABLE: table },
        async cleanup() {
          const pool = testPool();
          await dropTable(pool, table);
          await dropTable(pool, `${table}_user_epochs`);
          await pool.end();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe(`two app processes on ${backend.name}: per-user sessions`, {
    skip: backend.skip,
    timeout: 120_000,
  }, () => {
    let a: App;
    let b: App;
    let capped: App[] = [];
    let cleanup: () => Promise<void> = async () => {};
    let env: Record<string, string>;

    before(async () => {
      const setup = await backend.setup();
      env = setup.env;
      cleanup = setup.cleanup;
      [a, b] = await Promise.all([startApp(env), startApp(env)]);
    });
    after(async () => {
      await Promise.all([a, b, ...capped].map(stop));
      await cleanup();
    });

    it('lists and revokes across processes', async () => {
      const phone = new Device('phone');
      const laptop = new Device('laptop');
      assert.equal(await phone.login(a, 'ann'), 200);
      assert.equal(await laptop.login(b, 'ann'), 200);
      const list = await phone.devices(b);
      assert.deepEqual(list.map((d) => d.meta.ua).sort(), ['laptop', 'phone']);
      assert.equal(list.find((d) => d.current)?.meta.ua, 'phone');
      const handle = list.find((d) => d.meta.ua === 'laptop')!.handle;
      const revoked = await phone
        .on(a)
        .request(`/revoke/ann/${encodeURIComponent(handle)}`, { method: 'POST' });
      assert.deepEqual(revoked.json(), { revoked: true });
      assert.equal(await laptop.user(b), null);
      assert.equal(await phone.user(b), 'ann');
    });

    it('concurrent logins through both processes are all listed, and all revoked', async () => {
      const devices = Array.from({ length: 30 }, (_, i) => new Device(`d${i}`));
      const statuses = await Promise.all(devices.map((d, i) => d.login(i % 2 ? a : b, 'bea')));
      assert.ok(statuses.every((s) => s === 200));
      assert.equal((await devices[0]!.devices(a)).length, 30);
      const others = await devices[0]!.on(b).request('/logout-others', { method: 'POST' });
      assert.deepEqual(others.json(), { count: 29 });
      const users = await Promise.all(devices.map((d, i) => d.user(i % 2 ? b : a)));
      assert.deepEqual(users.filter(Boolean), ['bea']);
    });

    it('a revocation racing logins on the other process leaves nothing alive unlisted', async () => {
      const early = Array.from({ length: 5 }, (_, i) => new Device(`early${i}`));
      for (const d of early) await d.login(a, 'cyd');
      const keeper = new Device('keeper');
      await keeper.login(b, 'cyd');
      const racing = Array.from({ length: 10 }, (_, i) => new Device(`racing${i}`));
      const logins = racing.map((d) => d.login(a, 'cyd'));
      const revoke = keeper.on(b).request('/logout-others', { method: 'POST' });
      await Promise.all([...logins, revoke]);
      for (const d of early) assert.equal(await d.user(b), null);
      const listed = await keeper.devices(a);
      const alive = (await Promise.all(racing.map((d) => d.user(b)))).filter(Boolean);
      assert.equal(
        listed.length,
        alive.length + 1,
        'every live session is listed (and the keeper)',
      );
    });

    it('maxSessionsPerUser holds across processes', async () => {
      capped = await Promise.all([startApp({ ...env, MAX: '3' }), startApp({ ...env, MAX: '3' })]);
      const devices = Array.from({ length: 8 }, (_, i) => new Device(`c${i}`));
      for (const [i, d] of devices.entries()) await d.login(capped[i % 2]!, 'dee');
      const alive = (await Promise.all(devices.map((d, i) => d.user(capped[i % 2]!)))).filter(
        Boolean,
      );
      assert.equal(alive.length, 3);
      assert.deepEqual((await devices[7]!.devices(capped[0]!)).map((d) => d.meta.ua).sort(), [
        'c5',
        'c6',
        'c7',
      ]);
    });
  });
}
