// One contestant per process: `node bench/server.mjs <contestant>` (or BENCH_CONTESTANT).
// Listens on 127.0.0.1 (PORT, default 0 = any free port) and prints `READY <port>` on stdout.
//
// Measured routes (what the load generator hits):
//   GET /visit      read `visits`, +1, write it back (creates the session on the first visit)
//   GET /new        set one key; every request without a cookie (or with the cookie of a session
//                   that does not exist) creates a session
//   GET /key?i=N    set key `k<N>` to N in the request's session
// Outside the measured window (the load generator calls them after the timed run):
//   GET /__read     the session's `visits` (a plain read)
//   GET /__keys?n=N how many of k0…k(N-1) the session holds
//   GET /__stats    RSS, peak RSS, heap and the number of completed /visit, /new and /key requests
// The process exits cleanly (so `--cpu-prof` can write its profile) on SIGTERM, SIGINT, or when
// its stdin closes (the orchestrator died).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import express from 'express';
import { COOKIE_NAME, connectRedis, MAX_AGE, pgPool, randomId, SECRET } from './lib/common.mjs';

const require = createRequire(import.meta.url);
const contestant = process.argv[2] ?? process.env.BENCH_CONTESTANT;
const tmpDir = process.env.BENCH_TMP;
const prefix = process.env.BENCH_PREFIX ?? 'ssjs-bench:manual:';
/** PostgreSQL contestants: `schema.table` of this run (the orchestrator creates the schema). */
const pgSchema = process.env.BENCH_PG_SCHEMA ?? 'public';
const pgTable = process.env.BENCH_PG_TABLE ?? 'ssjs_bench_manual';
/** Sessions put straight into an in-process store before READY (the scale benchmark). */
const prefill = Number(process.env.BENCH_PREFILL ?? 0);

const counters = { visit: 0, new: 0, key: 0, requests: 0 };
/** Requests of the measured routes not finished yet (the load generator waits for 0). */
let inflight = 0;
const closers = [];

async function expressSessionAdapter(makeStore, session = require('express-session')) {
  const store = await makeStore(session);
  const middleware = session({
    store,
    secret: SECRET,
    name: COOKIE_NAME,
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: MAX_AGE, httpOnly: true, sameSite: 'lax' },
  });
  return {
    middleware,
    async visit(req) {
      const visits = (req.session.visits ?? 0) + 1;
      req.session.visits = visits;
      return visits;
    },
    async newVisitor(req) {
      req.session.visits = 1;
    },
    async setKey(req, i) {
      req.session[`k${i}`] = i;
    },
    async read(req) {
      return req.session?.visits;
    },
    async countKeys(req, n) {
      let count = 0;
      for (let i = 0; i < n; i++) if (req.session?.[`k${i}`] === i) count++;
      return count;
    },
  };
}

async function ssjsAdapter(options) {
  const { default: SessionManager } = await import('session-store-js');
  const sm = new SessionManager({
    ...options,
    secret: SECRET,
    cookieName: COOKIE_NAME,
    maxAge: MAX_AGE,
  });
  closers.push(() => sm.close());
  if (prefill > 0) {
    await prefillStore(sm.store, prefill);
    // Filling a million sessions in seconds leaves hundreds of MB of garbage (its promises and
    // records) that a server which got there over hours would have collected long before; left
    // in place, its collection falls into the timed window of the largest level only.
    for (let i = 0; i < 2; i++) globalThis.gc?.();
  }
  return {
    middleware: sm.middleware(),
    async visit(req) {
      const visits = ((await sm.get(req, 'visits')) ?? 0) + 1;
      await sm.set(req, 'visits', visits);
      return visits;
    },
    async newVisitor(req) {
      await sm.set(req, 'visits', 1);
    },
    async setKey(req, i) {
      await sm.set(req, `k${i}`, i);
    },
    async read(req) {
      return sm.get(req, 'visits');
    },
    async countKeys(req, n) {
      let count = 0;
      for (let i = 0; i < n; i++) if ((await sm.get(req, `k${i}`)) === i) count++;
      return count;
    },
  };
}

/** Creates `count` small sessions ({ visits: 1 }) directly in `store`, 256 in flight. */
async function prefillStore(store, count) {
  const now = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await store.create(randomId(), {
        data: { visits: 1 },
        createdAt: now,
        expiresAt: now + MAX_AGE,
      });
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
}

async function redisClient() {
  const client = await connectRedis();
  closers.push(() => client.quit().catch(() => client.destroy?.()));
  return client;
}

async function pgClientPool() {
  const pool = await pgPool();
  closers.push(() => pool.end());
  return pool;
}

/** `session-store-js/express-session`: `toExpressStore` and the drop-in `session()`. */
function interop() {
  return import('session-store-js/express-session');
}

/** One of our stores, for the interop contestants. */
async function ssjsStore(kind) {
  const ssjs = await import('session-store-js');
  const store =
    kind === 'memory'
      ? new ssjs.MemoryStore({ maxAge: MAX_AGE })
      : kind === 'file'
        ? new ssjs.FileStore({ path: join(needTmp(), 'sessions') })
        : new ssjs.RedisStore({ client: await redisClient(), prefix });
  closers.push(() => store.close());
  return store;
}

async function toExpressStoreAdapter(kind) {
  const { toExpressStore } = await interop();
  const store = await ssjsStore(kind);
  return expressSessionAdapter(() => toExpressStore(store));
}

async function dropInAdapter(kind) {
  const mod = await interop();
  const session = mod.default ?? mod.session;
  const store = await ssjsStore(kind);
  return expressSessionAdapter(() => store, session);
}

function needTmp() {
  if (!tmpDir) throw new Error('BENCH_TMP (a temp dir for file stores) is not set');
  return tmpDir;
}

const factories = {
  bare: async () => undefined,
  'express-session-memory': () => expressSessionAdapter((session) => new session.MemoryStore()),
  memorystore: () =>
    expressSessionAdapter((session) => {
      const MemoryStore = require('memorystore')(session);
      const store = new MemoryStore({ checkPeriod: 86_400_000 });
      closers.push(() => store.stopInterval());
      return store;
    }),
  'session-file-store': () =>
    expressSessionAdapter((session) => {
      const FileStore = require('session-file-store')(session);
      const store = new FileStore({ path: join(needTmp(), 'sessions'), logFn: () => {} });
      closers.push(() => clearInterval(store.options.reapIntervalObject));
      return store;
    }),
  'connect-redis': () =>
    expressSessionAdapter(async () => {
      const { RedisStore } = await import('connect-redis');
      return new RedisStore({ client: await redisClient(), prefix });
    }),
  'connect-pg-simple': () =>
    expressSessionAdapter(async (session) => {
      const PgSession = require('connect-pg-simple')(session);
      return new PgSession({
        pool: await pgClientPool(),
        schemaName: pgSchema,
        tableName: pgTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
    }),
  'ssjs-memory': () =>
    ssjsAdapter({
      storeType: 'memory',
      // The default bound (100,000) would evict the prefilled sessions of the scale benchmark.
      storeOptions: prefill > 0 ? { maxSessions: prefill + 100_000 } : {},
    }),
  'ssjs-file': () =>
    ssjsAdapter({ storeType: 'file', storeOptions: { path: join(needTmp(), 'sessions') } }),
  'ssjs-redis': async () =>
    ssjsAdapter({ storeType: 'redis', storeOptions: { client: await redisClient(), prefix } }),
  'ssjs-postgres': async () =>
    ssjsAdapter({
      storeType: 'postgres',
      // No sweep timer: the scale benchmark's expired rows are for its own cleanup figure.
      storeOptions: {
        pool: await pgClientPool(),
        table: `${pgSchema}.${pgTable}`,
        cleanupInterval: 0,
      },
    }),
  'ssjs-memory-always': () => ssjsAdapter({ storeType: 'memory', renewOnWrite: 'always' }),
  'ssjs-file-always': () =>
    ssjsAdapter({
      storeType: 'file',
      storeOptions: { path: join(needTmp(), 'sessions') },
      renewOnWrite: 'always',
    }),
  'ssjs-redis-always': async () =>
    ssjsAdapter({
      storeType: 'redis',
      storeOptions: { client: await redisClient(), prefix },
      renewOnWrite: 'always',
    }),
  'es-ssjs-memory': () => toExpressStoreAdapter('memory'),
  'es-ssjs-file': () => toExpressStoreAdapter('file'),
  'es-ssjs-redis': () => toExpressStoreAdapter('redis'),
  'dropin-memory': () => dropInAdapter('memory'),
  'dropin-file': () => dropInAdapter('file'),
  'dropin-redis': () => dropInAdapter('redis'),
};

if (!Object.hasOwn(factories, contestant)) {
  console.error(
    `unknown contestant ${JSON.stringify(contestant)}; one of ${Object.keys(factories)}`,
  );
  process.exit(2);
}

const adapter = await factories[contestant]();
const app = express();
app.set('etag', false);
app.set('x-powered-by', false);

// Every request the process handles (for per-request figures of a whole-process CPU profile).
app.use((_req, _res, next) => {
  counters.requests++;
  next();
});

app.get('/__stats', (_req, res) => {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  res.json({
    contestant,
    rss: mem.rss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: mem.heapUsed,
    counters,
    inflight,
    cpuMicros: cpu.user + cpu.system,
  });
});
// A measured request counts as finished once its handler has returned (or failed) AND its
// response has closed: a client that gives up at the end of a timed run closes the response
// early — even while the session middleware is still loading — and the handler with its store
// write goes on; express-session saves after the handler, in res.end. The tracking starts here,
// before any session middleware, in the tick the request arrives.
const MEASURED = new Set(['/visit', '/new', '/key']);
const handlerDone = Symbol('handlerDone');
app.use((req, res, next) => {
  if (MEASURED.has(req.path)) {
    inflight++;
    let pending = 2;
    const finish = () => {
      if (--pending === 0) inflight--;
    };
    res.once('close', finish);
    let handled = false;
    req[handlerDone] = () => {
      if (!handled) {
        handled = true;
        finish();
      }
    };
  }
  next();
});

/** Wraps a measured route handler so the in-flight count sees its end. */
function route(handler) {
  return async (req, res, next) => {
    try {
      await handler(req, res);
    } catch (error) {
      next(error);
    } finally {
      req[handlerDone]?.();
    }
  };
}

if (!adapter) {
  // Bare Express: the same routes with no session at all.
  app.get(
    '/visit',
    route((_req, res) => {
      counters.visit++;
      res.send('1');
    }),
  );
  app.get(
    '/new',
    route((_req, res) => {
      counters.new++;
      res.send('ok');
    }),
  );
  app.get(
    '/key',
    route((_req, res) => {
      counters.key++;
      res.send('ok');
    }),
  );
  app.get('/__read', (_req, res) => res.json({ visits: null }));
  app.get('/__keys', (_req, res) => res.json({ count: null }));
} else {
  app.use(adapter.middleware);
  app.get(
    '/visit',
    route(async (req, res) => {
      const visits = await adapter.visit(req);
      counters.visit++;
      res.send(String(visits));
    }),
  );
  app.get(
    '/new',
    route(async (req, res) => {
      await adapter.newVisitor(req);
      counters.new++;
      res.send('ok');
    }),
  );
  app.get(
    '/key',
    route(async (req, res) => {
      await adapter.setKey(req, Number(req.query.i));
      counters.key++;
      res.send('ok');
    }),
  );
  app.get('/__read', async (req, res) => {
    res.json({ visits: (await adapter.read(req)) ?? null });
  });
  app.get('/__keys', async (req, res) => {
    res.json({ count: await adapter.countKeys(req, Number(req.query.n)) });
  });
}

app.use((error, req, res, _next) => {
  req[handlerDone]?.();
  if (!res.headersSent) res.status(500).send(String(error?.code ?? error?.message ?? error));
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
server.keepAliveTimeout = 60_000;

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections?.();
  server.close();
  for (const close of closers) {
    try {
      await close();
    } catch {}
  }
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
