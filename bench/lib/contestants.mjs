// Who runs in the benchmark, what each needs, and which workloads it runs.
//
// Workloads: `visit` (visit counter), `new` (every request a new visitor), `stale` (every request
// carries a correctly signed cookie of a session that does not exist: a miss, then a new
// session), `keys` (concurrent keys, a correctness check). A contestant runs only the workloads
// its row lists, so a full run stays within its time budget; `bare` runs every throughput
// workload because every ratio divides by it.

/** `needs`: redis (the Redis server), pg (PostgreSQL), ssjs (the built package), interop
 * (`session-store-js/express-session`), dropin (its drop-in `session()`), postgresStore (our
 * PostgresStore exported). */
export const CONTESTANTS = [
  { id: 'bare', label: 'bare Express', workloads: ['visit', 'new', 'stale'] },
  {
    id: 'express-session-memory',
    label: 'express-session + MemoryStore',
    peer: true,
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'memorystore',
    label: 'express-session + memorystore',
    peer: true,
    // express-session's MemoryStore within noise on every workload: measured on demand only
    // (`--only memorystore`), and in the micro-benchmarks.
    onDemand: true,
    workloads: ['visit', 'keys'],
  },
  {
    id: 'session-file-store',
    label: 'express-session + session-file-store',
    peer: true,
    workloads: ['visit', 'new', 'stale', 'keys'],
  },
  {
    id: 'connect-redis',
    label: 'express-session + connect-redis',
    peer: true,
    needs: ['redis'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'connect-pg-simple',
    label: 'express-session + connect-pg-simple',
    peer: true,
    needs: ['pg'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'ssjs-memory',
    label: 'session-store-js MemoryStore',
    ssjs: true,
    store: 'memory',
    needs: ['ssjs'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'ssjs-file',
    label: 'session-store-js FileStore',
    ssjs: true,
    store: 'file',
    needs: ['ssjs'],
    workloads: ['visit', 'new', 'stale', 'keys'],
  },
  {
    id: 'ssjs-redis',
    label: 'session-store-js RedisStore',
    ssjs: true,
    store: 'redis',
    needs: ['ssjs', 'redis'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'ssjs-postgres',
    label: 'session-store-js PostgresStore',
    ssjs: true,
    store: 'postgres',
    needs: ['ssjs', 'pg', 'postgresStore'],
    workloads: ['visit', 'new', 'keys'],
  },
  // The same stores with `renewOnWrite: 'always'`: every write moves the expiry and re-sends the
  // cookie, as express-session does; beside the default ('touchAfter') it shows what the default
  // saves (visit counter only: a new visitor always gets a cookie).
  {
    id: 'ssjs-memory-always',
    label: "session-store-js MemoryStore, renewOnWrite: 'always'",
    ssjs: true,
    store: 'memory',
    needs: ['ssjs'],
    workloads: ['visit'],
  },
  {
    id: 'ssjs-file-always',
    label: "session-store-js FileStore, renewOnWrite: 'always'",
    ssjs: true,
    store: 'file',
    needs: ['ssjs'],
    // The kernel's file calls dominate FileStore; the cookie header is a small part of it.
    onDemand: true,
    workloads: ['visit'],
  },
  {
    id: 'ssjs-redis-always',
    label: "session-store-js RedisStore, renewOnWrite: 'always'",
    ssjs: true,
    store: 'redis',
    needs: ['ssjs', 'redis'],
    workloads: ['visit'],
  },
  {
    id: 'es-ssjs-memory',
    label: 'express-session + toExpressStore(MemoryStore)',
    interop: true,
    needs: ['ssjs', 'interop'],
    workloads: ['visit', 'keys'],
  },
  {
    id: 'es-ssjs-file',
    label: 'express-session + toExpressStore(FileStore)',
    interop: true,
    needs: ['ssjs', 'interop'],
    workloads: ['visit', 'keys'],
  },
  {
    id: 'es-ssjs-redis',
    label: 'express-session + toExpressStore(RedisStore)',
    interop: true,
    needs: ['ssjs', 'interop', 'redis'],
    workloads: ['visit', 'keys'],
  },
  {
    id: 'dropin-memory',
    label: 'drop-in session() + MemoryStore',
    interop: true,
    needs: ['ssjs', 'interop', 'dropin'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'dropin-file',
    label: 'drop-in session() + FileStore',
    interop: true,
    needs: ['ssjs', 'interop', 'dropin'],
    workloads: ['visit', 'new', 'keys'],
  },
  {
    id: 'dropin-redis',
    label: 'drop-in session() + RedisStore',
    interop: true,
    needs: ['ssjs', 'interop', 'dropin', 'redis'],
    workloads: ['visit', 'new', 'keys'],
  },
];

export const BY_ID = new Map(CONTESTANTS.map((c) => [c.id, c]));
export const IDS = CONTESTANTS.map((c) => c.id);
/** The contestants of a run without `--only`. */
export const DEFAULT_IDS = CONTESTANTS.filter((c) => !c.onDemand).map((c) => c.id);
/** Contestants that are session-store-js's own manager (profiled with `--profile`). */
export const SSJS = new Set(CONTESTANTS.filter((c) => c.ssjs).map((c) => c.id));
export const THROUGHPUT = ['visit', 'new', 'stale'];
export const WORKLOADS = [...THROUGHPUT, 'keys'];
export const WORKLOAD_LABELS = {
  visit: 'visit counter',
  new: 'new visitor',
  stale: 'stale cookie',
  keys: 'concurrent keys',
};

export const label = (id) => BY_ID.get(id)?.label ?? id;
export const needs = (id, what) => BY_ID.get(id)?.needs?.includes(what) ?? false;
export const runsWorkload = (id, workload) => BY_ID.get(id)?.workloads.includes(workload) ?? false;
