/**
 * RedisStore on Redis Cluster: a private 3-master cluster on free loopback ports, built with
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`. The compliance suite runs
 * on it with node-redis (`createCluster`) and ioredis (`Cluster`); then listing, counting and
 * clearing must reach the keys of every master, since SCAN only sees one node.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { generateSessionId } from '../../src/id.js';
import { RedisStore, type RedisStoreOptions } from '../../src/stores/redis/redis-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { HOUR, record } from '../helpers/records.js';
import {
  canSpawnRedisServer,
  freePort,
  pingRedis,
  REDIS_REQUIRED,
  RedisServer,
  randomPrefix,
} from '../helpers/redis.js';
import { describeStore } from './compliance.js';
import { describeUserIndex } from './user-index-compliance.js';

const run = promisify(execFile);

interface ClusterConn {
  client: NonNullable<RedisStoreOptions['client']>;
  /** Sends a command to one master given by port. */
  onNode(port: number, ...args: string[]): Promise<unknown>;
  quit(): Promise<void>;
}

/** Starts 3 cluster-enabled servers and joins them into one cluster with every slot covered. */
async function startCluster(dir: string): Promise<RedisServer[]> {
  const servers: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    servers.push(
      await RedisServer.start({
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
          '--dir',
          dir,
        ],
      }),
    );
  }
  await run('redis-cli', [
    '--cluster',
    'create',
    ...servers.map((s) => `127.0.0.1:${s.port}`),
    '--cluster-yes',
  ]);
  const deadline = Date.now() + 15_000;
  for (const s of servers) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(s.port), 'CLUSTER', 'INFO']);
      if (stdout.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error('the test cluster did not become ready');
      await sleep(100);
    }
  }
  return servers;
}

async function rawOnNode(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout.trim();
}

const FLAVOURS: Array<{ name: string; connect(ports: number[]): Promise<ClusterConn> }> = [
  {
    name: 'node-redis',
    async connect(ports) {
      const client = createCluster({
        rootNodes: [{ url: `redis://127.0.0.1:${ports[0]}` }],
        defaults: { disableOfflineQueue: true },
      });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        onNode: (port, ...args) => rawOnNode(port, ...args),
        quit: async () => {
          await client.close();
        },
      };
    },
  },
  {
    name: 'ioredis',
    async connect(ports) {
      const client = new Cluster([{ host: '127.0.0.1', port: ports[0]! }], {
        enableOfflineQueue: false,
        redisOptions: { maxRetriesPerRequest: 1 },
        lazyConnect: true,
      });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        onNode: (port, ...args) => rawOnNode(port, ...args),
        quit: async () => {
          await client.quit();
        },
      };
    },
  },
];

const spawnable = (await canSpawnRedisServer()) && (await pingRedisCli());
if (!spawnable && REDIS_REQUIRED) throw new Error('redis-server and redis-cli are required');
const skip = spawnable ? undefined : 'redis-server/redis-cli not installed; cluster tests skipped';

async function pingRedisCli(): Promise<boolean> {
  try {
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe('RedisStore on Redis Cluster', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let servers: RedisServer[] = [];
  let ports: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sst-cluster-'));
    servers = await startCluster(dir);
    ports = servers.map((s) => s.port);
    for (const p of ports) assert.ok(await pingRedis(`redis://127.0.0.1:${p}`));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const flavour of FLAVOURS) {
    describeStore(`RedisStore (${flavour.name} cluster)`, async () => {
      const conn = await flavour.connect(ports);
      const prefix = randomPrefix(`${flavour.name}-cluster`);
      const store = new RedisStore({ client: conn.client, prefix });
      return {
        store,
        reopen: () => new RedisStore({ client: conn.client, prefix }),
        async cleanup() {
          await conn.quit();
        },
      };
    });

    describeUserIndex(
      `RedisStore (${flavour.name} cluster)`,
      async () => {
        const conn = await flavour.connect(ports);
        const store = new RedisStore({ client: conn.client, prefix: randomPrefix('users') });
        // Across slots the epoch is a call of its own: never read with the record.
        return { store, epochWithRecord: 'never', cleanup: () => conn.quit() };
      },
      { users: 2_000 },
    );

    it(`${flavour.name}: a bound session loads without its epoch, which the next call reads`, async () => {
      const conn = await flavour.connect(ports);
      const store = new RedisStore({ client: conn.client, prefix: randomPrefix('bound') });
      try {
        const id = generateSessionId();
        const data = { n: 1, [USER_BINDING_KEY]: { id: 'kim', epoch: 0 } };
        await store.createForUser(id, record(data), 'kim');
        await store.raiseUserEpoch('kim', 7);
        for (let i = 0; i < 2; i++) {
          const loaded = await store.get(id);
          assert.equal(loaded?.data.n, 1);
          assert.equal(loaded?.userEpoch, undefined, 'the epoch is in another slot');
        }
        assert.equal(await store.userEpoch('kim'), 7);
      } finally {
        await store.close();
        await conn.quit();
      }
    });

    it(`${flavour.name}: all, length and clear reach the sessions on every master`, async () => {
      const conn = await flavour.connect(ports);
      const prefix = randomPrefix('spread');
      const store = new RedisStore({ client: conn.client, prefix, scanCount: 50 });
      try {
        const ids = Array.from({ length: 300 }, () => generateSessionId());
        await Promise.all(ids.map((id, n) => store.create(id, record({ n }))));
        const countOn = async (port: number) =>
          String(await conn.onNode(port, '--scan', '--pattern', `${prefix}*`))
            .split('\n')
            .filter(Boolean).length;
        for (const port of ports) {
          const onNode = await countOn(port);
          assert.ok(onNode > 30, `master ${port} holds ${onNode} keys: sessions are spread`);
        }
        const seen = new Map<string, unknown>();
        for await (const [id, rec] of store.all()) seen.set(id, rec.data.n);
        assert.equal(seen.size, 300);
        for (const [n, id] of ids.entries()) assert.equal(seen.get(id), n);
        assert.equal(await store.length(), 300);
        const updated = await Promise.all(
          ids.map((id) => store.update(id, { set: { x: 1 } }, Date.now() + HOUR)),
        );
        assert.ok(updated.every(Boolean));
        await store.clear();
        assert.equal(await store.length(), 0);
        for (const port of ports) assert.equal(await countOn(port), 0);
      } finally {
        await store.close();
        await conn.quit();
      }
    });
  }
});
