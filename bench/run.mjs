#!/usr/bin/env node
// The benchmark orchestrator (`npm run bench -- [options]`). Writes the figures to
// bench/results/latest.json and regenerates BENCHMARKS.md and bench/charts/*.svg from them.
//
//   --rounds N        interleaved rounds (default 5)
//   --duration S      seconds per timed run (default 2)
//   --warmup S        seconds of the same traffic before each timed run, untimed (default 1)
//   --quick           a ~2-minute smoke run: 1 round of 1 s, every contestant on the visit
//                     counter, our stores on every workload, small scale and micro figures
//   --only a,b        contestants to run (bare is always added: every ratio divides by it)
//   --workloads a,b   visit,new,stale,keys (default all; each contestant runs those it lists)
//   --keys-rounds N   rounds that also run the concurrent-keys check (default 1)
//   --no-micro, --micro-only, --no-scale, --scale-only, --no-users (the per-user index figures)
//   --scale-levels a,b      live sessions of the scale benchmark (default 1000,100000,1000000)
//   --scale-file-levels a,b the same for FileStore (default 1000,100000: see BENCHMARKS.md)
//   --scale-rounds N        rounds per scale level (default 5)
//   --profile         after the rounds, one `node --cpu-prof` run per session-store-js
//                     contestant and throughput workload; prints the top self-time functions
//   --json out.json   where the figures go (default bench/results/latest.json)
//   --no-report       do not regenerate BENCHMARKS.md (for partial runs)
//   --connections N (50), --sessions N (1000), --keys N (1000)
//
// Every (round, workload, contestant) gets a fresh server process, a fresh temp dir, a fresh
// Redis prefix and PostgreSQL table; the load generator is another process. Figures are ratios
// to bare Express from the same round and workload; the tables show medians over rounds.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  connectRedis,
  deleteRedisPrefix,
  pgPool,
  randomPrefixRoot,
  randomSchema,
} from './lib/common.mjs';
import { BY_ID, DEFAULT_IDS, needs, runsWorkload, SSJS, THROUGHPUT } from './lib/contestants.mjs';
import { killAll, runNode } from './lib/procs.mjs';
import { Progress } from './lib/progress.mjs';
import { runOne } from './lib/server-proc.mjs';
import { checkTargets, summarize } from './lib/summary.mjs';
import { compareByArea, summarizeProfile } from './profile-summary.mjs';
import { writeReport } from './report.mjs';
import { runScale } from './scale.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    only: { type: 'string' },
    workloads: { type: 'string', default: 'visit,new,stale,keys' },
    'keys-rounds': { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string', default: join(here, 'results', 'latest.json') },
    'no-report': { type: 'boolean', default: false },
    'no-micro': { type: 'boolean', default: false },
    'no-users': { type: 'boolean', default: false },
    'micro-only': { type: 'boolean', default: false },
    'no-scale': { type: 'boolean', default: false },
    'scale-only': { type: 'boolean', default: false },
    'scale-levels': { type: 'string', default: '1000,100000,1000000' },
    'scale-file-levels': { type: 'string', default: '1000,100000' },
    'scale-rounds': { type: 'string', default: '5' },
    profile: { type: 'boolean', default: false },
    connections: { type: 'string', default: '50' },
    sessions: { type: 'string', default: '1000' },
    keys: { type: 'string', default: '1000' },
  },
});
const quick = args.quick;
const rounds = quick ? 1 : Number(args.rounds);
const numbers = (list) => list.split(',').filter(Boolean).map(Number);
const ctx = {
  duration: quick ? 1 : Number(args.duration),
  warmup: quick ? 0.5 : Number(args.warmup),
  connections: Number(args.connections),
  sessions: quick ? 300 : Number(args.sessions),
  keys: quick ? 200 : Number(args.keys),
  tmpRoot: mkdtempSync(join(tmpdir(), 'ssjs-bench-')),
  prefixRoot: randomPrefixRoot(),
  pgSchema: randomSchema(),
  redis: undefined,
  pg: undefined,
  log,
};
const workloads = args.workloads.split(',').filter(Boolean);
const runMain = !args['micro-only'] && !args['scale-only'];
const runMicro = !args['no-micro'] && !args['scale-only'];
const runScalePhase = !args['no-scale'] && !args['micro-only'];
const runUsers = !args['no-users'] && !args['micro-only'] && !args['scale-only'];
const scaleLevels = quick ? [300, 10_000] : numbers(args['scale-levels']);
const scaleFileLevels = quick ? [300, 10_000] : numbers(args['scale-file-levels']);
const progress = new Progress();
let cleanedUp = false;
let schemaCreated = false;

function log(message) {
  process.stderr.write(`${message}\n`);
}

async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  killAll();
  try {
    if (ctx.redis) {
      const n = await deleteRedisPrefix(ctx.redis, ctx.prefixRoot);
      if (n > 0) log(`cleanup: deleted ${n} leftover Redis keys under ${ctx.prefixRoot}`);
      await ctx.redis.quit();
    }
  } catch (error) {
    log(`cleanup: Redis: ${error.message}`);
  }
  try {
    if (ctx.pg) {
      if (schemaCreated) await ctx.pg.query(`DROP SCHEMA IF EXISTS "${ctx.pgSchema}" CASCADE`);
      await ctx.pg.end();
    }
  } catch (error) {
    log(`cleanup: PostgreSQL: ${error.message}`);
  }
  rmSync(ctx.tmpRoot, { recursive: true, force: true });
}
// Last resort (an uncaught error, a closed stdout): synchronous clean-up of children and files.
process.on('exit', () => {
  killAll();
  rmSync(ctx.tmpRoot, { recursive: true, force: true });
});
process.stdout.on('error', () => {});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`\n${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

/** Which contestants can run here: services reachable, session-store-js built, features there. */
async function available(wanted) {
  const skipped = {};
  const skip = (what, why) => {
    for (const c of wanted) if (needs(c, what)) skipped[c] ??= why;
  };
  try {
    ctx.redis = await connectRedis();
  } catch (error) {
    skip('redis', `Redis unreachable (${error.message})`);
  }
  try {
    ctx.pg = await pgPool(2);
    await ctx.pg.query(`CREATE SCHEMA "${ctx.pgSchema}"`);
    schemaCreated = true;
  } catch (error) {
    await ctx.pg?.end().catch(() => {});
    ctx.pg = undefined;
    skip('pg', `PostgreSQL unreachable (${error.message})`);
  }
  let ssjs;
  try {
    ssjs = await import('session-store-js');
  } catch (error) {
    skip('ssjs', `session-store-js not built: ${error.message.split('\n')[0]} (run npx tshy)`);
  }
  if (ssjs && typeof ssjs.PostgresStore !== 'function')
    skip('postgresStore', 'PostgresStore not in this build');
  try {
    const interop = await import('session-store-js/express-session');
    if (typeof interop.toExpressStore !== 'function') throw new Error('no toExpressStore export');
    if (typeof (interop.default ?? interop.session) !== 'function')
      skip('dropin', 'the drop-in session() is not in this build');
  } catch (error) {
    skip(
      'interop',
      `session-store-js/express-session not in this build (${error.message.split('\n')[0]})`,
    );
  }
  return { list: wanted.filter((c) => !skipped[c]), skipped };
}

/** The (workload, contestant) pairs of one round, in order (bare first in each workload). */
function roundPlan(list, round) {
  const plan = [];
  for (const workload of workloads) {
    if (workload === 'keys' && round > Number(args['keys-rounds'])) continue;
    for (const c of list) {
      if (!runsWorkload(c, workload)) continue;
      // The smoke run: everyone on the visit counter, our stores (and bare) on everything.
      if (quick && workload !== 'visit' && !(c === 'bare' || SSJS.has(c))) continue;
      plan.push({ workload, contestant: c });
    }
  }
  return plan;
}

async function main() {
  const started = Date.now();
  const wanted = args.only
    ? ['bare', ...args.only.split(',').filter((c) => c && c !== 'bare')]
    : [...DEFAULT_IDS];
  for (const c of wanted) if (!BY_ID.has(c)) throw new Error(`unknown contestant ${c}`);
  const { list, skipped } = await available(wanted);
  const load = loadavg();
  const results = {
    meta: {
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      quick,
      date: new Date().toISOString(),
      rounds,
      duration: ctx.duration,
      warmup: ctx.warmup,
      connections: ctx.connections,
      sessions: ctx.sessions,
      keys: ctx.keys,
      contestants: list,
      skipped,
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model,
      memoryGB: Math.round(totalmem() / 2 ** 30),
      loadBefore: load[0],
    },
    runs: {},
    summary: {},
  };
  log(
    `contestants: ${list.join(', ')}${Object.keys(skipped).length ? ` (skipped: ${Object.keys(skipped).join(', ')})` : ''}`,
  );
  if (runMain) {
    for (let round = 1; round <= rounds; round++) {
      for (const { workload } of roundPlan(list, round))
        progress.plan(
          `run-${workload}`,
          1,
          workload === 'keys' ? ctx.duration + 1 : ctx.duration + ctx.warmup + 2,
        );
    }
  }
  if (runScalePhase) progress.plan('scale-fill', 2, quick ? 2 : 30);
  if (runMicro) progress.plan('micro', 1, quick ? 15 : 90);
  if (runUsers) progress.plan('users', 1, quick ? 30 : 420);
  if (runMain) {
    for (let round = 1; round <= rounds; round++) {
      for (const { workload, contestant } of roundPlan(list, round)) {
        progress.start(`run-${workload}`, `round ${round}/${rounds}, ${workload}: ${contestant}`);
        let result;
        try {
          result = await runOne(contestant, workload, ctx);
        } catch (error) {
          result = { error: error.message.split('\n')[0] };
          log(error.stack);
        }
        result.round = round;
        results.runs[workload] ??= {};
        results.runs[workload][contestant] ??= [];
        results.runs[workload][contestant].push(result);
        progress.note(`  ${brief(result)}`);
      }
    }
    progress.end();
    summarize(results);
    if (args.profile) results.profiles = await profile(list);
  }
  if (runScalePhase) {
    const stores = ['memory', 'file', 'redis', 'postgres'].filter((s) =>
      list.includes(`ssjs-${s}`),
    );
    results.scale = await runScale(ctx, progress, {
      levels: scaleLevels,
      fileLevels: scaleFileLevels,
      rounds: quick ? 1 : Number(args['scale-rounds']),
      stores,
      expired: quick ? 1000 : 10_000,
    });
  }
  if (runMicro) {
    progress.start('micro', 'micro-benchmarks (store ops/s, cleanup, heap)');
    const microJson = join(ctx.tmpRoot, 'micro.json');
    const microArgs = [join(here, 'micro.mjs'), '--json', microJson];
    if (quick) microArgs.push('--quick', '--sessions', '10000', '--only', 'ops,heap');
    // Cleanup and heap figures at 1,000,000 come from the scale phase; these compare the peers.
    else microArgs.push('--sessions', '30000');
    const { code } = await runNode(microArgs, { timeoutMs: 900_000 });
    if (code !== 0) log(`micro.mjs exited ${code}`);
    try {
      results.micro = JSON.parse(readFileSync(microJson, 'utf8'));
    } catch {}
    progress.end();
  }
  if (runUsers) {
    progress.start('users', 'per-user sessions: listing, revoking, index cost (bench/users.mjs)');
    const usersJson = join(ctx.tmpRoot, 'users.json');
    const sizes = quick
      ? [
          '--sessions',
          '10000',
          '--samples',
          '200',
          '--rounds',
          '2',
          '--duration',
          '2',
          '--warmup',
          '0.5',
        ]
      : // Its own rounds and run length (bench/users.mjs): the index cost is a few per cent, so
        // it needs longer runs than the load tests to stand out of the machine's noise.
        ['--sessions', '100000', '--samples', '500', '--warmup', args.warmup];
    const { code } = await runNode([join(here, 'users.mjs'), ...sizes, '--json', usersJson], {
      timeoutMs: 1_200_000,
    });
    if (code !== 0) log(`users.mjs exited ${code}`);
    try {
      results.users = JSON.parse(readFileSync(usersJson, 'utf8'));
    } catch {}
    progress.end();
  }
  results.targets = checkTargets(results);
  results.meta.loadAfter = loadavg()[0];
  results.meta.seconds = (Date.now() - started) / 1000;
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  if (!args['no-report']) {
    const written = writeReport(results);
    log(`wrote ${written.join(', ')}`);
  }
  for (const t of results.targets)
    log(`${t.met === undefined ? '–' : t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured}`);
  log(`done in ${results.meta.seconds.toFixed(0)} s; figures in ${args.json}`);
}

function brief(r) {
  if (r.error) return `error: ${r.error}`;
  const parts = [`${r.rps?.toFixed(0)} req/s`];
  if (r.deficit !== undefined) parts.push(`deficit ${r.deficit}`);
  if (r.lost !== undefined) parts.push(`lost ${r.lost} of ${r.keys}`);
  if (r.cpuPerReq) parts.push(`${r.cpuPerReq.toFixed(0)} µs CPU/req`);
  if (r.non2xx || r.errors) parts.push(`non-2xx ${r.non2xx}, errors ${r.errors}`);
  return parts.join(', ');
}

async function profile(list) {
  const profiles = [];
  const keep = join(here, '.profiles');
  mkdirSync(keep, { recursive: true });
  const baseline = {};
  const order = list.filter((c) => c === 'bare' || SSJS.has(c));
  for (const workload of workloads.filter((w) => THROUGHPUT.includes(w))) {
    for (const contestant of order) {
      if (!runsWorkload(contestant, workload)) continue;
      const dir = join(ctx.tmpRoot, `prof-${contestant}-${workload}`);
      mkdirSync(dir, { recursive: true });
      progress.start('profile', `profile ${workload}: ${contestant}`);
      try {
        const result = await runOne(contestant, workload, ctx, {
          nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
        });
        const requests = result.requestsTotal;
        if (contestant === 'bare') baseline[workload] = { dir, requests };
        const parts = [`${requests} requests handled by the profiled server process.`];
        const base = baseline[workload];
        if (base && contestant !== 'bare') {
          parts.push(compareByArea(dir, requests, base.dir, base.requests));
          parts.push(
            'session-store-js functions:',
            summarizeProfile(dir, 10, requests, (where) => where.startsWith('dist/')),
          );
        }
        parts.push('Top functions:', summarizeProfile(dir, 15, requests));
        const table = parts.join('\n\n');
        profiles.push({ contestant, workload, requests, table });
        writeFileSync(join(keep, `${contestant}-${workload}.md`), `${table}\n`);
      } catch (error) {
        log(`profile ${contestant}/${workload}: ${error.message}`);
      }
    }
  }
  progress.end();
  return profiles;
}

try {
  await main();
} catch (error) {
  log(error.stack);
  process.exitCode = 1;
} finally {
  await cleanup();
}
