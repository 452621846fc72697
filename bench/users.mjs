#!/usr/bin/env node
// Micro-benchmark of per-user sessions, self-contained:
//
//   node bench/users.mjs [--sessions 100000] [--per-user 5] [--samples 2000] [--store memory,redis]
//                        [--json out.json]
//
// Fills a store with `sessions` sessions bound to `sessions / per-user` users, then measures:
// - listUserSessions(user) and destroyUserSessions(user) through a SessionManager, per call, on
//   random users (the cost must follow the user's sessions, not the store's);
// - what the index adds to a login: store.createForUser (insert + index) against store.create;
// - what it adds to a request of a signed-in user: the epoch read (store.userEpoch) beside the
//   session read (store.get) that every request makes.
// Requires the built package (`npx tshy`); RedisStore runs when REDIS_URL (default
// redis://127.0.0.1:6379) answers, under a random prefix that is deleted afterwards.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { SessionManager, MemoryStore, RedisStore, generateSessionId } = require('session-store-js');

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    'per-user': { type: 'string', default: '5' },
    samples: { type: 'string', default: '2000' },
    store: { type: 'string', default: 'memory,redis' },
    json: { type: 'string' },
  },
});
const SESSIONS = Number(args.sessions);
const PER_USER = Number(args['per-user']);
const SAMPLES = Number(args.samples);
const USERS = Math.floor(SESSIONS / PER_USER);
const HOUR = 3_600_000;
const BINDING = '__ssjs_user';

function record(userId) {
  const now = Date.now();
  const data = Object.assign(Object.create(null), { visits: 1 });
  if (userId !== undefined) data[BINDING] = { id: userId, epoch: 0, meta: { userAgent: 'bench' } };
  return { data, createdAt: now, expiresAt: now + HOUR };
}

/** Runs `fn(i)` `count` times, `inFlight` at once; resolves µs per operation. */
async function timed(count, inFlight, fn) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}

const pick = () => `user${Math.floor(Math.random() * USERS)}`;

async function benchStore(name, store) {
  process.stderr.write(`${name}: filling ${SESSIONS} sessions of ${USERS} users…\n`);
  await timed(SESSIONS, 64, (i) =>
    store.createForUser(generateSessionId(), record(`user${i % USERS}`), `user${i % USERS}`),
  );
  const sm = new SessionManager({ store, secret: randomBytes(32).toString('hex') });
  const result = { store: name, sessions: SESSIONS, users: USERS, perUser: PER_USER };

  result.listUserSessionsUs = await timed(SAMPLES, 1, () => sm.listUserSessions(pick()));
  const victims = new Set();
  while (victims.size < Math.min(SAMPLES, USERS)) victims.add(pick());
  const list = [...victims];
  result.destroyUserSessionsUs = await timed(list.length, 1, (i) =>
    sm.destroyUserSessions(list[i]),
  );

  // Logins: inserts with and without the index, 32 in flight, as a loaded server would.
  result.createUs = await timed(SAMPLES, 32, () => store.create(generateSessionId(), record()));
  result.createForUserUs = await timed(SAMPLES, 32, () => {
    const user = `fresh${Math.floor(Math.random() * USERS)}`;
    return store.createForUser(generateSessionId(), record(user), user);
  });
  result.loginIndexCostPct = Math.round((result.createForUserUs / result.createUs - 1) * 100);

  // A request of a signed-in user: the session read every request makes, plus the epoch read.
  const ids = [];
  for (let i = 0; i < 200; i++) {
    const id = generateSessionId();
    await store.createForUser(id, record(`req${i}`), `req${i}`);
    ids.push(id);
  }
  result.getUs = await timed(SAMPLES * 5, 32, (i) => store.get(ids[i % ids.length]));
  result.userEpochUs = await timed(SAMPLES * 5, 32, (i) => store.userEpoch(`req${i % ids.length}`));
  result.requestIndexCostPct = Math.round((result.userEpochUs / result.getUs) * 100);
  return result;
}

async function redisStore() {
  const { createClient } = require('redis');
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch {
    process.stderr.write(`no Redis at ${url}: RedisStore skipped\n`);
    return undefined;
  }
  const prefix = `bench-users:${randomBytes(4).toString('hex')}:`;
  const store = new RedisStore({ client, prefix });
  return {
    store,
    async done() {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
        if (keys.length > 0) await client.del(keys);
      }
      await client.close();
    },
  };
}

const results = [];
for (const name of args.store.split(',')) {
  if (name === 'memory') {
    const store = new MemoryStore({ maxSessions: SESSIONS * 2 + 10 * SAMPLES });
    results.push(await benchStore('MemoryStore', store));
    await store.close();
  } else if (name === 'redis') {
    const opened = await redisStore();
    if (!opened) continue;
    try {
      results.push(await benchStore('RedisStore', opened.store));
    } finally {
      await opened.done();
    }
  }
}

for (const r of results) {
  console.log(
    `${r.store} (${r.sessions} sessions, ${r.users} users × ${r.perUser}): ` +
      `listUserSessions ${r.listUserSessionsUs.toFixed(1)} µs, ` +
      `destroyUserSessions ${r.destroyUserSessionsUs.toFixed(1)} µs, ` +
      `login create ${r.createUs.toFixed(1)} → createForUser ${r.createForUserUs.toFixed(1)} µs (+${r.loginIndexCostPct} %), ` +
      `request: get ${r.getUs.toFixed(1)} µs + epoch ${r.userEpochUs.toFixed(1)} µs (${r.requestIndexCostPct} % of the read)`,
  );
}
if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
