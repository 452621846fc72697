#!/usr/bin/env node
// Micro-benchmarks of the stores, each measurement in a fresh child process.
//
//   node bench/micro.mjs [--quick] [--json out.json] [--only ops,cleanup,heap]
//
// ops:     operations per second of get / create / update / touch / destroy, 32 in flight,
//          distinct session ids, for session-store-js MemoryStore, FileStore, RedisStore and
//          express-session's MemoryStore, memorystore, session-file-store, connect-redis
//          (callback/promise get / set / touch / destroy; "update" is a whole-session set).
// cleanup: 100,000 sessions of which 10 % expired; wall time of one cleanup and the longest
//          event-loop block meanwhile (1 ms setInterval drift probe and monitorEventLoopDelay
//          at 1 ms resolution).
// heap:    growth of heapUsed + arrayBuffers per session for 100,000 sessions holding { visits: 1 }
//          (--expose-gc).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectRedis, deleteRedisPrefix, memoryInUse, randomPrefixRoot } from './lib/common.mjs';
import { prefillFiles } from './lib/prefill.mjs';
import { killAll, lastJson, runNode } from './lib/procs.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string', default: 'ops,cleanup,heap' },
    child: { type: 'string' },
    sessions: { type: 'string', default: '100000' },
  },
});

const OPS_STORES = [
  'MemoryStore',
  'FileStore',
  'RedisStore',
  'express-session MemoryStore',
  'memorystore',
  'session-file-store',
  'connect-redis',
];
const CLEANUP_STORES = [
  'MemoryStore',
  'FileStore',
  'express-session MemoryStore',
  'memorystore',
  'session-file-store',
];
const HEAP_STORES = ['MemoryStore', 'express-session MemoryStore', 'memorystore'];
const DAY = 86_400_000;

// ---------------------------------------------------------------- stores behind one interface

function esSession(visits, maxAge) {
  return {
    cookie: {
      originalMaxAge: maxAge,
      maxAge,
      expires: new Date(Date.now() + maxAge).toISOString(),
      httpOnly: true,
      path: '/',
    },
    visits,
  };
}

function promisify(store, method, ...args) {
  return new Promise((resolve, reject) => {
    store[method](...args, (error, value) => (error ? reject(error) : resolve(value)));
  });
}

/** { create(id, visits, ttlMs), get, update(id, visits), touch, destroy, close, raw } */
async function openStore(name, ctx) {
  if (['MemoryStore', 'FileStore', 'RedisStore'].includes(name)) {
    const ssjs = await import('session-store-js');
    let store;
    if (name === 'MemoryStore')
      store = new ssjs.MemoryStore({ cleanupInterval: 0, indexInterval: 0, ...ctx.memoryOptions });
    if (name === 'FileStore') store = new ssjs.FileStore({ path: ctx.dir });
    if (name === 'RedisStore') {
      ctx.redis = await connectRedis();
      store = new ssjs.RedisStore({ client: ctx.redis, prefix: ctx.prefix });
    }
    return {
      raw: store,
      create: (id, visits, ttl = DAY) => {
        const now = Date.now();
        return store.create(id, { data: { visits }, createdAt: now, expiresAt: now + ttl });
      },
      get: (id) => store.get(id),
      update: (id, visits) => store.update(id, { set: { visits } }, Date.now() + DAY),
      touch: (id) => store.touch(id, Date.now() + DAY),
      destroy: (id) => store.destroy(id),
      cleanup: () => store.cleanup(),
      close: () => store.close(),
    };
  }
  const session = require('express-session');
  let store;
  if (name === 'express-session MemoryStore') store = new session.MemoryStore();
  if (name === 'memorystore') store = new (require('memorystore')(session))({ checkPeriod: DAY });
  if (name === 'session-file-store') {
    store = new (require('session-file-store')(session))({
      path: ctx.dir,
      logFn: () => {},
      reapInterval: -1,
    });
  }
  if (name === 'connect-redis') {
    const { RedisStore } = await import('connect-redis');
    ctx.redis = await connectRedis();
    store = new RedisStore({ client: ctx.redis, prefix: ctx.prefix });
  }
  return {
    raw: store,
    create: (id, visits, ttl = DAY) => promisify(store, 'set', id, esSession(visits, ttl)),
    get: (id) => promisify(store, 'get', id),
    update: (id, visits) => promisify(store, 'set', id, esSession(visits, DAY)),
    touch: (id) => promisify(store, 'touch', id, esSession(1, DAY)),
    destroy: (id) => promisify(store, 'destroy', id),
    close: async () => {
      if (name === 'memorystore') store.stopInterval();
    },
  };
}

const newId = () => randomBytes(24).toString('base64url');

// ---------------------------------------------------------------- child tasks

/** Runs `op(i)` with `concurrency` in flight until `limit` ops or `budgetMs`; ops/s and count. */
async function measure(op, limit, budgetMs, concurrency = 32) {
  let next = 0;
  let done = 0;
  const started = performance.now();
  const deadline = started + budgetMs;
  const worker = async () => {
    while (next < limit && performance.now() < deadline) {
      const i = next++;
      await op(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { opsPerSec: done / seconds, ops: done };
}

async function opsTask(name, ctx) {
  // MemoryStore evicts beyond maxSessions (default 100,000); the others are unbounded.
  const store = await openStore(name, { ...ctx, memoryOptions: { maxSessions: 1_000_000 } });
  const budget = args.quick ? 150 : 600;
  const limit = ['MemoryStore', 'express-session MemoryStore', 'memorystore'].includes(name)
    ? 200_000
    : 50_000;
  const ids = [];
  const out = {};
  // Warm-up (JIT), not measured.
  const warm = Array.from({ length: 200 }, newId);
  for (const id of warm) await store.create(id, 1);
  for (const id of warm) await store.get(id);
  for (const id of warm) await store.destroy(id);
  out.create = await measure(
    async () => {
      const id = newId();
      ids.push(id);
      await store.create(id, 1);
    },
    limit,
    budget,
  );
  const n = ids.length;
  let found = 0;
  out.get = await measure(
    async (i) => {
      if (await store.get(ids[i % n])) found++;
    },
    limit,
    budget,
  );
  // Every get hits a live session; anything else means the benchmark measured misses.
  if (found !== out.get.ops) throw new Error(`${name}: ${out.get.ops - found} gets missed`);
  out.update = await measure((i) => store.update(ids[i % n], i), limit, budget);
  out.touch = await measure((i) => store.touch(ids[i % n]), limit, budget);
  out.destroy = await measure((i) => store.destroy(ids[i]), n, budget);
  await store.close();
  return out;
}

function startProbe() {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > maxGap) maxGap = now - last;
    last = now;
  }, 1);
  return () => {
    clearInterval(timer);
    histogram.disable();
    return {
      // Longest time between two 1 ms ticks, minus the 1 ms they should be apart.
      probeBlockMs: Math.max(0, maxGap - 1),
      eldMaxMs: histogram.max / 1e6,
      eldP99Ms: histogram.percentile(99) / 1e6,
    };
  };
}

async function countFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).length;
}

async function cleanupTask(name, ctx) {
  const total = Number(args.sessions);
  const expiring = Math.round(total / 10);
  const store = await openStore(name, ctx);
  const ttlShort = 1000;
  let lastShort = 0;
  const createStarted = performance.now();
  if (name === 'FileStore') {
    // The store's own files, written directly: 100,000 creates through the store would take
    // minutes of journal work for what is a cleanup measurement.
    prefillFiles(ctx.dir, total - expiring, { expired: expiring });
    lastShort = Date.now() - ttlShort;
  } else if (name === 'session-file-store') {
    // Valid session-file-store files, written directly (its own `set` fsyncs every file).
    mkdirSync(ctx.dir, { recursive: true });
    await runPool(total, 64, async (i) => {
      const ttl = i < expiring ? ttlShort : DAY;
      const sess = { ...esSession(1, ttl), __lastAccess: Date.now() };
      await writeFile(join(ctx.dir, `${newId()}.json`), JSON.stringify(sess));
      if (i < expiring) lastShort = Date.now();
    });
  } else {
    await runPool(total, 1, async (i) => {
      await store.create(newId(), 1, i < expiring ? ttlShort : DAY);
      if (i < expiring) lastShort = Date.now();
    });
  }
  const createMs = performance.now() - createStarted;
  const wait = lastShort + ttlShort + 100 - Date.now();
  if (wait > 0) await sleep(wait);
  globalThis.gc?.();
  // Baseline: the probe on an idle loop, to show the noise floor.
  let stop = startProbe();
  await sleep(300);
  const idle = stop();
  const before = await sizeOf(name, store, ctx);
  stop = startProbe();
  await sleep(5);
  const started = performance.now();
  let removed;
  if (name === 'MemoryStore' || name === 'FileStore') {
    removed = await store.cleanup();
  } else if (name === 'express-session MemoryStore') {
    await promisify(store.raw, 'all');
  } else if (name === 'memorystore') {
    store.raw.prune();
  } else if (name === 'session-file-store') {
    const helpers = require('session-file-store/lib/session-file-helpers');
    await new Promise((resolve) => helpers.reap(store.raw.options, () => resolve()));
  }
  const wallMs = performance.now() - started;
  await sleep(5);
  const probe = stop();
  const after = await sizeOf(name, store, ctx);
  removed ??= before - after;
  await store.close();
  return {
    sessions: total,
    expired: expiring,
    removed,
    remaining: after,
    wallMs,
    maxBlockMs: Math.max(probe.probeBlockMs, 0),
    ...probe,
    idleBlockMs: idle.probeBlockMs,
    idleEldMaxMs: idle.eldMaxMs,
    createMs,
  };
}

async function sizeOf(name, store, ctx) {
  if (name === 'MemoryStore' || name === 'FileStore') return store.raw.length();
  if (name === 'express-session MemoryStore') return Object.keys(store.raw.sessions).length;
  if (name === 'memorystore') return store.raw.store.itemCount ?? store.raw.store.length;
  if (name === 'session-file-store') return countFiles(ctx.dir);
}

async function runPool(count, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function heapTask(name, ctx) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
  const total = Number(args.sessions);
  const store = await openStore(name, { ...ctx, memoryOptions: { maxSessions: total } });
  for (let i = 0; i < 3; i++) globalThis.gc();
  const before = memoryInUse();
  for (let i = 0; i < total; i++) await store.create(newId(), 1);
  for (let i = 0; i < 3; i++) globalThis.gc();
  const after = memoryInUse();
  const count = await sizeOf(name, store, ctx);
  await store.close();
  return { sessions: count, heapDelta: after - before, bytesPerSession: (after - before) / total };
}

async function child(task, name) {
  const ctx = {
    dir: mkdtempSync(join(tmpdir(), 'ssjs-micro-')),
    prefix: `${randomPrefixRoot()}micro:`,
  };
  const storeDir = join(ctx.dir, 'sessions');
  ctx.dir = storeDir;
  try {
    const fn = { ops: opsTask, cleanup: cleanupTask, heap: heapTask }[task];
    const result = await fn(name, ctx);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    if (ctx.redis) {
      await deleteRedisPrefix(ctx.redis, ctx.prefix).catch(() => {});
      await ctx.redis.quit().catch(() => {});
    }
    rmSync(dirname(storeDir), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- parent

const fmt = (v, d = 0) =>
  typeof v === 'number' && Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '–';

async function parent() {
  const only = new Set(args.only.split(','));
  const results = { ops: {}, cleanup: {}, heap: {}, errors: {} };
  const spawnChild = async (task, name, nodeArgs = []) => {
    const childArgs = [...nodeArgs, join(here, 'micro.mjs'), '--child', task, name];
    if (args.quick) childArgs.push('--quick');
    if (args.sessions !== '100000') childArgs.push('--sessions', args.sessions);
    process.stderr.write(`micro: ${task} ${name}…\n`);
    const { code, stdout, stderr } = await runNode(childArgs, {
      inheritStderr: false,
      timeoutMs: 300_000,
    });
    if (code !== 0) {
      results.errors[`${task} ${name}`] = stderr.trim().split('\n').slice(-3).join(' ');
      process.stderr.write(
        `micro: ${task} ${name} failed (${code}): ${stderr.trim().slice(-1500)}\n`,
      );
      return undefined;
    }
    return lastJson(stdout);
  };
  if (only.has('ops')) for (const s of OPS_STORES) results.ops[s] = await spawnChild('ops', s);
  if (only.has('cleanup'))
    for (const s of CLEANUP_STORES)
      results.cleanup[s] = await spawnChild('cleanup', s, ['--expose-gc']);
  if (only.has('heap'))
    for (const s of HEAP_STORES) results.heap[s] = await spawnChild('heap', s, ['--expose-gc']);

  const lines = [];
  if (only.has('ops')) {
    lines.push('\n### Store operations per second (32 in flight, distinct sessions)\n');
    lines.push(
      '| store | get | create | update | touch | destroy |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [s, r] of Object.entries(results.ops)) {
      lines.push(
        `| ${s} | ${['get', 'create', 'update', 'touch', 'destroy'].map((op) => fmt(r?.[op]?.opsPerSec)).join(' | ')} |`,
      );
    }
  }
  if (only.has('cleanup')) {
    lines.push(`\n### Cleanup of ${fmt(Number(args.sessions))} sessions, 10 % expired\n`);
    lines.push(
      '| store | removed | wall ms | longest block ms (1 ms probe) | ELD max ms | idle probe block ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [s, r] of Object.entries(results.cleanup)) {
      lines.push(
        `| ${s} | ${fmt(r?.removed)} of ${fmt(r?.expired)} | ${fmt(r?.wallMs)} | ${fmt(r?.maxBlockMs, 1)} | ${fmt(r?.eldMaxMs, 1)} | ${fmt(r?.idleBlockMs, 1)} |`,
      );
    }
  }
  if (only.has('heap')) {
    lines.push(
      `\n### Memory per small session ({ visits: 1 }, ${fmt(Number(args.sessions))} sessions, after gc: V8 heap + ArrayBuffers)\n`,
    );
    lines.push('| store | bytes / session |', '| --- | ---: |');
    for (const [s, r] of Object.entries(results.heap))
      lines.push(`| ${s} | ${fmt(r?.bytesPerSession)} |`);
  }
  for (const [k, v] of Object.entries(results.errors)) lines.push(`\nFailed: ${k}: ${v}`);
  process.stdout.write(`\n## Micro-benchmarks\n${lines.join('\n')}\n`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
}

process.on('exit', () => killAll());
process.stdout.on('error', () => {});
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  killAll();
  process.exit(143);
});

if (args.child) {
  await child(args.child, positionals.join(' '));
  process.exit(0);
} else {
  await parent();
}
