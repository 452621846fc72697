#!/usr/bin/env node
// Per-user sessions, self-contained:
//
//   node bench/users.mjs [--sessions 100000] [--per-user 5] [--samples 2000] [--store memory,redis]
//                        [--visit memory,file,redis,postgres] [--rounds 6] [--duration 8]
//                        [--warmup 1]
//                        [--json out.json]      (--help prints this)
//
// Store calls (in this process): fills a store with `sessions` sessions bound to
// `sessions / per-user` users, then measures:
// - listUserSessions(user) and destroyUserSessions(user) through a SessionManager, per call, on
//   random users (the cost must follow the user's sessions, not the store's);
// - what the index adds to a login: store.createForUser (insert + index) against store.create;
// - what it adds to a request of a signed-in user: a bound session's load as the manager makes
//   it (store.get, then store.userEpoch unless the record came with its epoch or vouched for)
//   against an unbound session's store.get.
// The visit counter over real HTTP (`--visit`, '' for none): for each store and round, one server
// process (this file with `--serve <store>`) holding two populations of sessions, 1,000 bound to
// users (`regenerate({ user })` on the first visit, one user per session) and 1,000 not, and
// bench/load.mjs's `alternate` workload: one run of `--duration` s whose whole load switches
// between the populations every 0.2 s. Both sides share the process, the JIT and the moment, so
// they differ only in their sessions (separate server processes per side, or adjacent 2-s
// windows, varied by more than the figure between runs; see BENCHMARKS.md). Which population is
// made first alternates by round (the side made second ran a few per cent faster in null runs,
// both sides unbound). Reported: the geometric mean over rounds of the throughput ratio (bound /
// unbound), each round's ratio, and the server CPU µs per request.
// Requires the built package (`npx tshy`); RedisStore runs when REDIS_URL (default
// redis://127.0.0.1:6379) answers, under a random prefix that is deleted afterwards; PostgreSQL
// from BENCH_DATABASE_URL / DATABASE_URL (default the local `test` database), in a table that is
// dropped afterwards.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  connectRedis,
  deleteRedisPrefix,
  MAX_AGE,
  median,
  pgPool,
  randomPrefixRoot,
  SECRET,
} from './lib/common.mjs';
import { killAll, lastJson, runNode, track, waitExit } from './lib/procs.mjs';

const require = createRequire(import.meta.url);
const { SessionManager, MemoryStore, RedisStore, generateSessionId } = require('session-store-js');

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000' },
    'per-user': { type: 'string', default: '5' },
    samples: { type: 'string', default: '2000' },
    store: { type: 'string', default: 'memory,redis' },
    visit: { type: 'string', default: 'memory,file,redis,postgres' },
    rounds: { type: 'string', default: '6' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    serve: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
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

  // A request's load: an unbound session's read against a bound one's as the manager makes it
  // (the read, then the user's epoch unless the store gave it with the record or vouched for
  // the record: `userEpoch`, `userCurrent`).
  const plain = [];
  const signedIn = [];
  for (let i = 0; i < 200; i++) {
    plain.push(generateSessionId());
    await store.create(plain[i], record());
    signedIn.push(generateSessionId());
    await store.createForUser(signedIn[i], record(`req${i}`), `req${i}`);
  }
  const boundLoad = async (i) => {
    const loaded = await store.get(signedIn[i % signedIn.length]);
    if (!loaded?.userCurrent && loaded?.userEpoch === undefined) {
      await store.userEpoch(`req${i % signedIn.length}`);
    }
  };
  const plainLoad = (i) => store.get(plain[i % plain.length]);
  // Both warmed first (the JIT; RedisStore reads its eviction policy on its first loads).
  await timed(SAMPLES, 32, plainLoad);
  await timed(SAMPLES, 32, boundLoad);
  result.getUs = await timed(SAMPLES * 5, 32, plainLoad);
  result.boundLoadUs = await timed(SAMPLES * 5, 32, boundLoad);
  result.requestIndexCostPct = Math.round((result.boundLoadUs / result.getUs - 1) * 100);
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

/** The store-call figures of every store in `--store`. */
async function micro() {
  const results = [];
  for (const name of args.store.split(',').filter(Boolean)) {
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
        `request: load ${r.getUs.toFixed(1)} → signed in ${r.boundLoadUs.toFixed(1)} µs (+${r.requestIndexCostPct} %)`,
    );
  }
  return results;
}

// ------------------------------------------------ the visit counter over HTTP, bound vs unbound

const VISIT_STORES = {
  memory: 'MemoryStore',
  file: 'FileStore',
  redis: 'RedisStore',
  postgres: 'PostgresStore',
};

/**
 * The server process of one measured run (`--serve <store>`): the routes and stats of
 * bench/server.mjs's visit counter that bench/load.mjs uses, twice. `/visit-bound` signs in on a
 * session's first visit (`regenerate({ user })`, a new user each time) before it counts, so every
 * session of that population is bound to a user; on `/visit` the first write creates an unbound
 * session. Later visits of both are the same code: read `visits`, write it back.
 */
async function serve(kind) {
  const express = require('express');
  const env = process.env;
  const closers = [];
  let storeOptions;
  if (kind === 'memory') storeOptions = {};
  else if (kind === 'file') storeOptions = { path: join(env.BENCH_TMP, 'sessions') };
  else if (kind === 'redis') {
    const client = await connectRedis();
    closers.push(() => client.quit());
    storeOptions = { client, prefix: env.BENCH_PREFIX };
  } else if (kind === 'postgres') {
    const pool = await pgPool();
    closers.push(() => pool.end());
    storeOptions = { pool, table: env.BENCH_PG_TABLE, cleanupInterval: 0 };
  } else throw new Error(`unknown store ${kind}`);
  const sm = new SessionManager({
    storeType: kind,
    storeOptions,
    secret: SECRET,
    cookieName: 'sid',
    maxAge: MAX_AGE,
  });
  closers.unshift(() => sm.close());
  const counters = { visit: 0, new: 0, key: 0, requests: 0 };
  let inflight = 0;
  let users = 0;
  const app = express();
  app.set('etag', false);
  app.use((_req, _res, next) => {
    counters.requests++;
    next();
  });
  app.get('/__stats', (_req, res) => {
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    res.json({ counters, inflight, cpuMicros: cpu.user + cpu.system, rss: mem.rss, maxRss: 0 });
  });
  app.use(sm.middleware());
  const visit = (bound) => async (req, res, next) => {
    inflight++;
    try {
      const visits = await sm.get(req, 'visits');
      if (visits === undefined && bound) await sm.regenerate(req, { user: `user${users++}` });
      await sm.set(req, 'visits', (visits ?? 0) + 1);
      counters.visit++;
      res.send(String((visits ?? 0) + 1));
    } catch (error) {
      next(error);
    } finally {
      inflight--;
    }
  };
  app.get('/visit', visit(false));
  app.get('/visit-bound', visit(true));
  app.get('/__read', async (req, res) => {
    res.json({ visits: (await sm.get(req, 'visits')) ?? null, user: sm.userId(req) ?? null });
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`READY ${server.address().port}\n`);
  });
  server.keepAliveTimeout = 60_000;
  const stop = async () => {
    server.closeAllConnections?.();
    server.close();
    for (const close of closers) await close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
}

/**
 * One measured run: a server for `kind`, the load generator's `alternate` workload, the bound
 * population made first when `boundFirst`. Resolves its result with `bound`/`unbound` sides.
 */
async function visitRun(kind, ctx, boundFirst) {
  const id = `${kind}-${++ctx.runs}`;
  const dir = join(ctx.tmp, id);
  const table = `users_bench_${randomBytes(5).toString('hex')}`;
  const prefix = `${ctx.prefixRoot}${id}:`;
  ctx.table = table;
  const child = track(
    spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind], {
      env: {
        ...process.env,
        BENCH_TMP: dir,
        BENCH_PG_TABLE: table,
        BENCH_PREFIX: prefix,
        NODE_ENV: 'production',
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        const match = /READY (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`${id}: server exited (${code})`)));
    });
    const paths = boundFirst
      ? { a: '/visit-bound', b: '/visit' }
      : { a: '/visit', b: '/visit-bound' };
    const config = {
      port,
      workload: 'alternate',
      paths,
      duration: ctx.duration,
      warmup: ctx.warmup,
    };
    const { code, stdout } = await runNode([join(here, 'load.mjs'), JSON.stringify(config)], {
      timeoutMs: (ctx.duration + 2 * ctx.warmup + 180) * 1000,
    });
    if (code !== 0) throw new Error(`${id}: load generator exited ${code}`);
    const r = lastJson(stdout);
    return {
      ...r,
      boundFirst,
      boundRps: boundFirst ? r.rpsA : r.rpsB,
      unboundRps: boundFirst ? r.rpsB : r.rpsA,
      ratio: boundFirst ? 1 / r.ratio : r.ratio,
      groupRatios: boundFirst ? r.groupRatios.map((x) => 1 / x) : r.groupRatios,
    };
  } finally {
    child.kill('SIGTERM');
    await waitExit(child, 10_000);
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres')
      await ctx.pg?.query(`DROP TABLE IF EXISTS "${table}", "${table}_user_epochs"`);
    if (kind === 'redis') await deleteRedisPrefix(ctx.redis, prefix);
  }
}

/** Bound against unbound sessions on the visit counter, for every store in `--visit`. */
async function visits() {
  const kinds = args.visit.split(',').filter((k) => Object.hasOwn(VISIT_STORES, k));
  if (kinds.length === 0) return [];
  const ctx = {
    runs: 0,
    duration: Number(args.duration),
    warmup: Number(args.warmup),
    tmp: mkdtempSync(join(tmpdir(), 'ssjs-users-')),
    prefixRoot: randomPrefixRoot(),
    redis: undefined,
    pg: undefined,
  };
  const available = [];
  for (const kind of kinds) {
    try {
      if (kind === 'redis') ctx.redis ??= await connectRedis();
      if (kind === 'postgres') {
        ctx.pg ??= await pgPool(2);
        await ctx.pg.query('SELECT 1');
      }
      available.push(kind);
    } catch (error) {
      process.stderr.write(`${VISIT_STORES[kind]} skipped: ${error.message}\n`);
    }
  }
  const runs = Object.fromEntries(available.map((k) => [k, []]));
  // Interrupted: the children stop, and what the runs left in Redis goes with them.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      killAll();
      if (ctx.redis) await deleteRedisPrefix(ctx.redis, ctx.prefixRoot).catch(() => {});
      const t = ctx.table;
      await ctx.pg?.query(`DROP TABLE IF EXISTS "${t}", "${t}_user_epochs"`).catch(() => {});
      rmSync(ctx.tmp, { recursive: true, force: true });
      process.exit(130);
    });
  }
  try {
    for (let round = 1; round <= Number(args.rounds); round++) {
      for (const kind of available) {
        let run;
        try {
          run = await visitRun(kind, ctx, round % 2 === 0);
        } catch (error) {
          run = { error: error.message };
        }
        runs[kind].push({ round, ...run });
        process.stderr.write(
          run.error
            ? `round ${round} ${VISIT_STORES[kind]}: ${run.error}\n`
            : `round ${round} ${VISIT_STORES[kind]}: unbound ${run.unboundRps?.toFixed(0)} req/s, bound ${run.boundRps?.toFixed(0)} req/s (ratio ${run.ratio?.toFixed(3)}), ${run.cpuPerReq?.toFixed(0)} µs/req, deficit ${run.deficit}\n`,
        );
      }
    }
  } finally {
    await ctx.redis?.quit().catch(() => {});
    await ctx.pg?.end().catch(() => {});
    rmSync(ctx.tmp, { recursive: true, force: true });
  }
  return available.map((kind) => {
    const done = runs[kind].filter((r) => r.ratio > 0);
    // The geometric mean over rounds: half the rounds make the bound side first, half second,
    // and the side made second ran a few per cent faster in null runs (both sides unbound), so
    // the mean of the two orders is what cancels it.
    const ratio =
      done.length > 0
        ? Math.exp(done.reduce((sum, r) => sum + Math.log(r.ratio), 0) / done.length)
        : undefined;
    const result = {
      kind: 'visit',
      store: VISIT_STORES[kind],
      rounds: done.length,
      duration: ctx.duration,
      boundRps: median(done.map((r) => r.boundRps)),
      unboundRps: median(done.map((r) => r.unboundRps)),
      ratio,
      costPct: ratio === undefined ? undefined : (1 - ratio) * 100,
      ratios: done.map((r) => r.ratio),
      cpuPerReq: median(done.map((r) => r.cpuPerReq)),
      deficits: runs[kind].map((r) => r.deficit),
      runs: runs[kind],
    };
    console.log(
      `${result.store} visit counter, bound to users vs not (${result.rounds} rounds × ${ctx.duration} s, alternating every 0.2 s): ` +
        `${result.unboundRps?.toFixed(0)} → ${result.boundRps?.toFixed(0)} req/s (ratio ${ratio?.toFixed(3)}, cost ${result.costPct?.toFixed(1)} %; rounds ${result.ratios.map((x) => x.toFixed(3)).join(' ')})`,
    );
    return result;
  });
}

async function main() {
  const results = [...(await micro()), ...(await visits())];
  if (args.json) await writeFile(args.json, `${JSON.stringify(results, null, 2)}\n`);
}

if (args.help) {
  const text = (await import('node:fs')).readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const comments = text.split('\n').slice(1);
  process.stdout.write(
    `${comments
      .slice(
        0,
        comments.findIndex((l) => !l.startsWith('//')),
      )
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n')}\n`,
  );
} else if (args.serve) {
  await serve(args.serve);
} else {
  try {
    await main();
  } finally {
    killAll();
  }
}
