// Flat as the work grows: the visit counter with 1,000, 100,000 and 1,000,000 live sessions in
// the store, and what those sessions cost (bytes, streaming, cleanup). Run by run.mjs (phase
// "scale"); `node bench/scale.mjs --child <task> <store> [count] [dir|prefix]` is one
// measurement in a fresh process.
//
// Each level fills the store directly (prefill.mjs: files in the FileStore's format, Redis
// hashes by a server-side script, MemoryStore inside the server process), then runs the visit
// counter on 1,000 of the sessions, round by round, next to a bare Express run of the same round.
// The figure per level is the median same-round ratio; the loss is 1 − last level / first level.
// Every level, the first one too, is measured here in the same way (the same rounds, the same
// shared data, the same preparation before each run), so the levels differ only in the sessions
// the store holds. The file, Redis and PostgreSQL data of one level is kept for the next (only
// the difference is added). Before each run the persistent stores are brought to the state a
// running deployment is in: the files written back to disk (the kernel's writeback of a bulk
// write would otherwise run during the timed window) and the PostgreSQL table vacuumed (as
// autovacuum keeps it; without it the dead rows of earlier runs pile up, which a fresh table at
// the first level would not have).
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  connectRedis,
  deleteRedisPrefix,
  MAX_AGE,
  median,
  memoryInUse,
  PG_URL,
  randomId,
} from './lib/common.mjs';
import {
  postgresTableBytes,
  prefillFiles,
  prefillPostgres,
  prefillRedis,
  redisUsedMemory,
} from './lib/prefill.mjs';
import { lastJson, runNode, writeBack } from './lib/procs.mjs';
import { runOne } from './lib/server-proc.mjs';

/** Expired sessions added beside the live ones of a level, for the cleanup figures. */
let EXPIRED = 10_000;

/**
 * The scale phase. `opts`: { levels, fileLevels, rounds, stores (memory/file/redis/postgres
 * available), expired }.
 */
export async function runScale(ctx, progress, opts) {
  const { levels, rounds, stores } = opts;
  EXPIRED = opts.expired ?? EXPIRED;
  const fileLevels = opts.fileLevels ?? levels;
  const out = { levels, fileLevels, rounds, points: {}, prefill: {}, bytes: {}, stream: {} };
  out.cleanup = {};
  const levelsOf = (store) => (store === 'file' ? fileLevels : levels);
  const data = {
    file: { dir: join(ctx.tmpRoot, 'scale-file'), filled: 0 },
    redis: { prefix: `${ctx.prefixRoot}scale:`, filled: 0 },
    postgres: { table: 'scale_sessions', filled: 0 },
  };
  const pgName = `${ctx.pgSchema}.${data.postgres.table}`;
  const pgQuoted = `"${ctx.pgSchema}"."${data.postgres.table}"`;
  for (const level of levels) {
    const active = stores.filter((s) => levelsOf(s).includes(level));
    progress.plan('scale-run', rounds * (active.length + 1), 4);
  }
  try {
    for (const level of levels) {
      const active = stores.filter((s) => levelsOf(s).includes(level));
      if (active.length === 0) continue;
      const extra = Math.max(0, level - ctx.sessions);
      for (const store of active) out.points[store] ??= {};
      // Fill the persistent stores up to this level (the 1,000 visited sessions come on top).
      if (active.includes('file') && extra > data.file.filled) {
        const add = extra - data.file.filled;
        progress.start('scale-fill', `scale: writing ${add.toLocaleString('en-US')} session files`);
        const fill = prefillFiles(join(data.file.dir, 'sessions'), add, { expired: EXPIRED });
        data.file.filled = extra;
        out.prefill.file = fill;
        progress.note(`scale: ${fill.perSecond.toFixed(0)} files/s`);
        // Every run writes back after itself (runOne); the prefill, before the first run.
        writeBack(data.file.dir);
      }
      if (active.includes('redis') && ctx.redis && extra > data.redis.filled) {
        const add = extra - data.redis.filled;
        progress.start(
          'scale-fill',
          `scale: writing ${add.toLocaleString('en-US')} Redis sessions`,
        );
        const before = await redisUsedMemory(ctx.redis);
        const fill = prefillRedis(ctx.redis, data.redis.prefix, add);
        out.prefill.redis = await fill;
        const after = await redisUsedMemory(ctx.redis);
        data.redis.filled = extra;
        out.bytes.redis = { sessions: add, bytesPerSession: (after - before) / add, level };
      }
      if (active.includes('postgres') && ctx.pg && !data.postgres.created) {
        // Before the first level, which may hold only the visited sessions.
        await createPostgresTable(ctx.pg, pgName);
        data.postgres.created = true;
      }
      if (active.includes('postgres') && ctx.pg && extra > data.postgres.filled) {
        const add = extra - data.postgres.filled;
        progress.start(
          'scale-fill',
          `scale: writing ${add.toLocaleString('en-US')} PostgreSQL rows`,
        );
        out.prefill.postgres = await prefillPostgres(ctx.pg, pgQuoted, add, { expired: EXPIRED });
        data.postgres.filled = extra;
        const rows = extra + EXPIRED;
        out.bytes.postgres = {
          sessions: rows,
          level,
          bytesPerSession: (await postgresTableBytes(ctx.pg, pgQuoted)) / rows,
        };
      }
      const runs = { bare: [] };
      for (let round = 1; round <= rounds; round++) {
        progress.start(
          'scale-run',
          `scale ${level.toLocaleString('en-US')} sessions, round ${round}/${rounds}: bare`,
        );
        runs.bare.push({ ...(await safeRun(ctx, 'bare', {})), round });
        for (const store of active) {
          const what = `scale ${level.toLocaleString('en-US')} sessions, round ${round}/${rounds}: ssjs-${store}`;
          progress.start('scale-run', what);
          const options = {};
          if (store === 'memory') {
            options.env = { BENCH_PREFILL: String(extra) };
            // The server collects the prefill's garbage before it reports ready (see server.mjs).
            options.nodeArgs = ['--expose-gc'];
          }
          if (store === 'file') options.shared = { dir: data.file.dir };
          if (store === 'redis') options.shared = { prefix: data.redis.prefix };
          if (store === 'postgres') {
            options.shared = { table: data.postgres.table };
            await ctx.pg.query(`VACUUM (ANALYZE) ${pgQuoted}`);
          }
          const r = { ...(await safeRun(ctx, `ssjs-${store}`, options)), round };
          runs[store] ??= [];
          runs[store].push(r);
          progress.note(
            `  ${what}: ${r.rps?.toFixed(0) ?? r.error} req/s, deficit ${r.deficit ?? '–'}`,
          );
        }
      }
      for (const store of active) out.points[store][level] = point(runs[store], runs.bare);
      progress.end();
      if (active.includes('file') && extra > 0) {
        progress.start(
          'scale-measure',
          `scale: FileStore bytes, streaming and cleanup at ${level.toLocaleString('en-US')}`,
        );
        out.bytes.file = fileBytes(join(data.file.dir, 'sessions'), level);
        out.stream.file = await child('stream', 'file', level, join(data.file.dir, 'sessions'));
        if (!out.cleanup.file) {
          // The same number of expired files among far fewer live ones: O(expired) or O(files)?
          const small = join(ctx.tmpRoot, 'scale-file-small', 'sessions');
          prefillFiles(small, EXPIRED, { expired: EXPIRED });
          out.cleanup.file = {
            [2 * EXPIRED]: await child('cleanup', 'file', 2 * EXPIRED, small),
          };
          rmSync(dirname(small), { recursive: true, force: true });
        }
        out.cleanup.file[level + EXPIRED] = await child(
          'cleanup',
          'file',
          level + EXPIRED,
          join(data.file.dir, 'sessions'),
        );
      }
      if (active.includes('postgres') && ctx.pg && extra > 0) {
        progress.start(
          'scale-measure',
          `scale: PostgresStore cleanup at ${level.toLocaleString('en-US')}`,
        );
        out.cleanup.postgres ??= {};
        out.cleanup.postgres[level + EXPIRED] = await child(
          'cleanup',
          'postgres',
          level + EXPIRED,
          pgName,
        );
        if (level === levels.at(-1))
          out.stream.postgres = await child('stream', 'postgres', level, pgName);
      }
      if (active.includes('redis') && ctx.redis && level === levels.at(-1)) {
        progress.start(
          'scale-measure',
          `scale: RedisStore streaming at ${level.toLocaleString('en-US')}`,
        );
        out.stream.redis = await child('stream', 'redis', level, data.redis.prefix);
      }
    }
    const top = levels.at(-1);
    if (stores.includes('memory')) {
      progress.start(
        'scale-measure',
        `scale: MemoryStore heap, streaming and cleanup at ${top.toLocaleString('en-US')}`,
      );
      out.bytes.memory = await child('heap', 'memory', top);
      out.stream.memory = await child('stream', 'memory', top);
      out.cleanup.memory = {};
      for (const level of levels.filter((l) => l >= 10_000))
        out.cleanup.memory[level] = await child('cleanup', 'memory', level);
    }
    progress.end();
  } finally {
    rmSync(data.file.dir, { recursive: true, force: true });
    if (ctx.redis) await deleteRedisPrefix(ctx.redis, data.redis.prefix).catch(() => {});
    if (ctx.pg) await ctx.pg.query(`DROP TABLE IF EXISTS ${pgQuoted}`).catch(() => {});
  }
  out.loss = {};
  for (const [store, byLevel] of Object.entries(out.points)) {
    const ls = Object.keys(byLevel)
      .map(Number)
      .sort((a, b) => a - b);
    const first = byLevel[ls[0]]?.ratio;
    const last = byLevel[ls.at(-1)]?.ratio;
    if (first && last && ls.length > 1)
      out.loss[store] = { from: ls[0], to: ls.at(-1), loss: 1 - last / first };
  }
  out.targets = scaleTargets(out);
  return out;
}

/** The store creates its table (and indexes) on first use. */
async function createPostgresTable(pool, table) {
  const { PostgresStore } = await import('session-store-js');
  const store = new PostgresStore({ pool, table, cleanupInterval: 0 });
  await store.length();
  await store.close();
}

async function safeRun(ctx, contestant, options) {
  try {
    return await runOne(contestant, 'visit', ctx, options);
  } catch (error) {
    ctx.log(error.stack);
    return { error: error.message.split('\n')[0] };
  }
}

function point(runs = [], bareRuns = []) {
  const ratios = runs.map((r) => {
    const bare = bareRuns.find((b) => b.round === r.round);
    return bare?.rps && r.rps ? r.rps / bare.rps : undefined;
  });
  return {
    ratio: median(ratios),
    rps: median(runs.map((r) => r.rps)),
    rounds: ratios.filter((v) => v !== undefined).length,
    deficit: runs.map((r) => r.deficit),
    maxRss: median(runs.map((r) => r.maxRss)),
  };
}

/** Disk use of a FileStore directory: a sample of files' allocated blocks, and the directory. */
function fileBytes(dir, level) {
  const names = readdirSync(dir);
  const sample = names.slice(0, 2000);
  const fileBlocks = median(sample.map((n) => statSync(join(dir, n)).blocks * 512));
  const apparent = median(sample.map((n) => statSync(join(dir, n)).size));
  const dirBytes = statSync(dir).blocks * 512;
  return {
    level,
    files: names.length,
    bytesPerFile: fileBlocks,
    apparentBytes: apparent,
    directoryBytesPerSession: dirBytes / names.length,
    bytesPerSession: fileBlocks + dirBytes / names.length,
    inodesPerSession: 1,
  };
}

function scaleTargets(out) {
  const t = [];
  for (const [store, l] of Object.entries(out.loss)) {
    t.push({
      group: 'scale',
      target: `${store}: visit counter loses ≤ 10 % from ${l.from.toLocaleString('en-US')} to ${l.to.toLocaleString('en-US')} sessions`,
      measured: `${(l.loss * 100).toFixed(1)} % (${out.points[store][l.from].ratio.toFixed(2)}x → ${out.points[store][l.to].ratio.toFixed(2)}x)`,
      met: l.loss <= 0.1,
    });
  }
  const heap = out.bytes.memory;
  if (heap)
    t.push({
      group: 'scale',
      target: `MemoryStore heap ≤ 250 B per small session at ${heap.sessions.toLocaleString('en-US')}`,
      measured: `${heap.bytesPerSession.toFixed(0)} B`,
      met: heap.bytesPerSession <= 250,
    });
  for (const [store, s] of Object.entries(out.stream)) {
    if (!s) continue;
    t.push({
      group: 'scale',
      target: `${store}: sessions() streams ${s.sessions.toLocaleString('en-US')} without holding them`,
      measured: `${s.seen.toLocaleString('en-US')} in ${s.seconds.toFixed(1)} s, RSS +${mb(s.rssGrowth)} MB over ${mb(s.rssBefore)} MB (all at once would be ≥ ${mb(s.heldBytes)} MB)`,
      // Streaming: the process grows by a fraction of what holding every pair would take (with a
      // floor for the allocator's own slack on small counts).
      met: s.seen >= s.sessions && s.rssGrowth < Math.max(s.heldBytes / 4, 64 * 1048576),
    });
  }
  for (const [store, byLevel] of Object.entries(out.cleanup)) {
    const ls = Object.keys(byLevel)
      .map(Number)
      .sort((a, b) => a - b);
    const first = byLevel[ls[0]];
    const last = byLevel[ls.at(-1)];
    if (!first || !last || ls.length < 2) continue;
    t.push({
      group: 'scale',
      target: `${store}: cleanup O(expired): ${EXPIRED.toLocaleString('en-US')} expired among ${ls[0].toLocaleString('en-US')} vs ${ls.at(-1).toLocaleString('en-US')} sessions`,
      measured: `${first.wallMs.toFixed(0)} ms vs ${last.wallMs.toFixed(0)} ms, longest block ${last.maxBlockMs.toFixed(1)} ms, removed ${last.removed}`,
      met: last.wallMs <= Math.max(first.wallMs * 2, first.wallMs + 20) && last.removed === EXPIRED,
    });
  }
  return t;
}

const mb = (b) => (b / 1048576).toFixed(0);

/** Runs one child measurement (`--child task store count [where]`); undefined on failure. */
async function child(task, store, count, where) {
  const args = [
    '--expose-gc',
    fileURLToPath(import.meta.url),
    '--child',
    task,
    store,
    String(count),
  ];
  if (where) args.push(where);
  const { code, stdout, stderr } = await runNode(args, {
    inheritStderr: false,
    timeoutMs: 600_000,
    env: { BENCH_EXPIRED: String(EXPIRED) },
  });
  if (code !== 0) {
    process.stderr.write(`scale ${task} ${store} failed (${code}): ${stderr.slice(-1500)}\n`);
    return undefined;
  }
  return lastJson(stdout);
}

// ---------------------------------------------------------------- child measurements

async function openStore(kind, count, where) {
  const ssjs = await import('session-store-js');
  if (kind === 'memory') {
    const store = new ssjs.MemoryStore({
      maxSessions: count + EXPIRED + 1,
      cleanupInterval: 0,
      indexInterval: 0,
    });
    return { store, close: () => store.close() };
  }
  if (kind === 'file') {
    const store = new ssjs.FileStore({ path: where });
    return { store, close: () => store.close() };
  }
  if (kind === 'postgres') {
    const store = new ssjs.PostgresStore({
      connectionString: PG_URL,
      table: where,
      cleanupInterval: 0,
    });
    return { store, close: () => store.close() };
  }
  const redis = await connectRedis();
  const store = new ssjs.RedisStore({ client: redis, prefix: where, scanCount: 1000 });
  const close = async () => {
    await store.close();
    await redis.quit();
  };
  return { store, close };
}

async function fillMemory(store, count, ttl = MAX_AGE) {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    await store.create(randomId(), { data: { visits: 1 }, createdAt: now, expiresAt: now + ttl });
  }
}

function gc() {
  for (let i = 0; i < 3; i++) globalThis.gc();
}

async function childTask(task, kind, count, where) {
  const { store, close } = await openStore(kind, count, where);
  try {
    if (task === 'heap') {
      gc();
      const before = memoryInUse();
      await fillMemory(store, count);
      gc();
      const after = memoryInUse();
      return { sessions: await store.length(), bytesPerSession: (after - before) / count };
    }
    if (task === 'stream') {
      if (kind === 'memory') await fillMemory(store, count);
      const { default: SessionManager } = await import('session-store-js');
      const sm = new SessionManager({ store, secret: 'x'.repeat(32), maxAge: MAX_AGE });
      gc();
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      let seen = 0;
      let bytes = 0;
      const started = performance.now();
      for await (const [id, data] of sm.sessions()) {
        seen++;
        if (seen === 1) bytes = id.length * 2 + JSON.stringify(data).length * 2 + 200;
        if (seen % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      const seconds = (performance.now() - started) / 1000;
      peak = Math.max(peak, process.memoryUsage().rss);
      // What holding every [id, data] pair at once would take, at least (strings + objects).
      return {
        sessions: count,
        seen,
        seconds,
        rssBefore,
        rssPeak: peak,
        rssGrowth: peak - rssBefore,
        heldBytes: bytes * seen,
      };
    }
    if (task === 'cleanup') {
      if (kind === 'memory') {
        await fillMemory(store, count - EXPIRED);
        await fillMemory(store, EXPIRED, 200);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      let maxGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 1);
      const started = performance.now();
      const removed = await store.cleanup();
      const wallMs = performance.now() - started;
      clearInterval(timer);
      return {
        sessions: count,
        expired: EXPIRED,
        removed,
        wallMs,
        maxBlockMs: Math.max(0, maxGap - 1),
      };
    }
    throw new Error(`unknown task ${task}`);
  } finally {
    await close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { child: { type: 'string' } },
  });
  const [kind, count, where] = positionals;
  EXPIRED = Number(process.env.BENCH_EXPIRED ?? EXPIRED);
  const result = await childTask(values.child, kind, Number(count), where);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
