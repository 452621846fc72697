#!/usr/bin/env node
// The benchmark orchestrator (`npm run bench -- [options]`). See BENCHMARKS.md.
//
//   --rounds N        interleaved rounds (default 3)
//   --duration S      seconds per timed run (default 5)
//   --only a,b        contestants to run (bare is always added: every ratio divides by it)
//   --workloads a,b   visit,new,keys (default all)
//   --quick           1 round of 2 s, quick micro-benchmarks (a smoke test)
//   --json out.json   also write every figure as JSON
//   --no-micro        skip the micro-benchmarks; --micro-only runs only them
//   --profile         after the rounds, one extra run per session-store-js contestant and
//                     throughput workload with `node --cpu-prof`; prints the top self-time functions
//   --connections N (50), --sessions N (1000), --keys N (1000)
//
// Every (round, workload, contestant) gets a fresh server process, a fresh temp dir and a fresh
// Redis prefix; the load generator is another process. Figures are ratios to bare Express from
// the same round and workload; the tables show medians over rounds.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CONTESTANTS,
  connectRedis,
  deleteRedisPrefix,
  median,
  NEEDS_REDIS,
  randomPrefixRoot,
  SSJS,
} from './lib/common.mjs';
import { killAll, lastJson, runNode, track, waitExit } from './lib/procs.mjs';
import { compareByArea, summarizeProfile } from './profile-summary.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    only: { type: 'string' },
    workloads: { type: 'string', default: 'visit,new,keys' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    'no-micro': { type: 'boolean', default: false },
    'micro-only': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    connections: { type: 'string', default: '50' },
    sessions: { type: 'string', default: '1000' },
    keys: { type: 'string', default: '1000' },
  },
});
const rounds = args.quick ? 1 : Number(args.rounds);
const duration = args.quick ? 2 : Number(args.duration);
const connections = Number(args.connections);
const sessions = Number(args.sessions);
const keyCount = Number(args.keys);
const workloads = args.workloads.split(',').filter(Boolean);

const tmpRoot = mkdtempSync(join(tmpdir(), 'ssjs-bench-'));
const prefixRoot = randomPrefixRoot();
let redis;
let cleanedUp = false;

async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  killAll();
  try {
    if (redis) {
      const n = await deleteRedisPrefix(redis, prefixRoot);
      if (n > 0) log(`cleanup: deleted ${n} leftover Redis keys under ${prefixRoot}`);
      await redis.quit();
    }
  } catch (error) {
    log(`cleanup: Redis: ${error.message}`);
  }
  rmSync(tmpRoot, { recursive: true, force: true });
}
// Last resort (an uncaught error, a closed stdout): synchronous clean-up of children and files.
process.on('exit', () => {
  killAll();
  rmSync(tmpRoot, { recursive: true, force: true });
});
process.stdout.on('error', () => {});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`\n${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

function log(message) {
  process.stderr.write(`${message}\n`);
}

/** Which contestants can run here: Redis reachable, session-store-js built with its stores. */
async function available(wanted) {
  const skipped = {};
  try {
    redis = await connectRedis();
  } catch (error) {
    redis = undefined;
    for (const c of wanted)
      if (NEEDS_REDIS.has(c)) skipped[c] = `Redis unreachable (${error.message})`;
  }
  let ssjs;
  try {
    ssjs = await import('session-store-js');
  } catch (error) {
    for (const c of wanted)
      if (SSJS.has(c))
        skipped[c] ??= `session-store-js not built: ${error.message.split('\n')[0]} (run npx tshy)`;
  }
  if (ssjs) {
    if (typeof ssjs.FileStore !== 'function') skipped['ssjs-file'] ??= 'FileStore not exported yet';
    if (typeof ssjs.RedisStore !== 'function')
      skipped['ssjs-redis'] ??= 'RedisStore not exported yet';
  }
  return { list: wanted.filter((c) => !skipped[c]), skipped };
}

let runNumber = 0;

async function startServer(contestant, { nodeArgs = [], env = {} } = {}) {
  const id = `${contestant}-${++runNumber}`;
  const dir = join(tmpRoot, id);
  mkdirSync(dir, { recursive: true });
  const prefix = `${prefixRoot}${id}:`;
  const child = track(
    spawn(process.execPath, [...nodeArgs, join(here, 'server.mjs'), contestant], {
      env: { ...process.env, BENCH_TMP: dir, BENCH_PREFIX: prefix, NODE_ENV: 'production', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${contestant}: server not ready in 20 s\n${stderr}`)),
      20_000,
    );
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const match = /READY (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${contestant}: server exited (${code}) before ready\n${stderr}`));
    });
  });
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      await waitExit(child, 10_000);
      if (redis && NEEDS_REDIS.has(contestant))
        await deleteRedisPrefix(redis, prefix).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      return stderr;
    },
  };
}

async function runOne(contestant, workload, serverOptions) {
  const server = await startServer(contestant, serverOptions);
  try {
    const config = { port: server.port, workload, duration, connections, sessions, keys: keyCount };
    const { code, stdout } = await runNode([join(here, 'load.mjs'), JSON.stringify(config)], {
      timeoutMs: (duration + 120) * 1000,
    });
    if (code !== 0) throw new Error(`load generator exited ${code}`);
    return lastJson(stdout);
  } finally {
    const stderr = (await server.stop()).replace(
      /Warning: connect\.session\(\) MemoryStore is not[\s\S]*?single process\.\n?/g,
      '',
    );
    if (stderr.trim()) log(`[${contestant} stderr] ${stderr.trim().slice(0, 2000)}`);
  }
}

const fmt = (v, digits = 2) =>
  v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(digits);
const mb = (bytes) => (bytes === undefined ? '–' : (bytes / 1048576).toFixed(0));

function tables(results, list, skipped) {
  const out = [];
  const throughput = workloads.filter((w) => w !== 'keys');
  if (throughput.length > 0) {
    out.push('### Throughput (median over rounds of the same-round ratio to bare Express)\n');
    out.push(
      `| contestant | ${throughput.map((w) => `${w} ratio | ${w} req/s | ${w} server CPU µs/req | ${w} CPU ratio`).join(' | ')} |`,
    );
    out.push(`| --- | ${throughput.map(() => '---: | ---: | ---: | ---:').join(' | ')} |`);
    for (const c of list) {
      const cells = throughput.map((w) => {
        const s = results.summary[w]?.[c];
        return `${fmt(s?.ratio)} | ${fmt(s?.rps, 0)} | ${fmt(s?.cpuPerReq, 0)} | ${fmt(s?.cpuRatio)}`;
      });
      out.push(`| ${c} | ${cells.join(' | ')} |`);
    }
    out.push('\n### Latency (ms, median over rounds) and server memory (MB, median over rounds)\n');
    out.push(
      `| contestant | ${throughput.map((w) => `${w} p50 | ${w} p99 | ${w} RSS end | ${w} RSS peak`).join(' | ')} |`,
    );
    out.push(`| --- | ${throughput.map(() => '---: | ---: | ---: | ---:').join(' | ')} |`);
    for (const c of list) {
      const cells = throughput.map((w) => {
        const s = results.summary[w]?.[c];
        return `${fmt(s?.p50, 1)} | ${fmt(s?.p99, 1)} | ${mb(s?.rss)} | ${mb(s?.maxRss)}`;
      });
      out.push(`| ${c} | ${cells.join(' | ')} |`);
    }
  }
  out.push('\n### Lost updates (per round)\n');
  out.push(
    `| contestant | visit counter: deficit (sum of visits vs. completed requests) | concurrent keys: keys lost of ${keyCount} |`,
  );
  out.push('| --- | --- | --- |');
  for (const c of list) {
    if (c === 'bare') continue;
    const visit = (results.runs.visit?.[c] ?? []).map(
      (r) => (r.deficit ?? '–') + (r.expected ? ` of ${r.expected}` : ''),
    );
    const keys = (results.runs.keys?.[c] ?? []).map(
      (r) => (r.lost ?? '–') + (r.failed ? ` (+${r.failed} failed)` : ''),
    );
    out.push(`| ${c} | ${visit.join(', ') || '–'} | ${keys.join(', ') || '–'} |`);
  }
  const loads = Object.values(results.runs)
    .flatMap((byContestant) => Object.values(byContestant).flat())
    .map((r) => r.load)
    .filter((v) => typeof v === 'number');
  if (loads.length) {
    out.push(
      `\n1-minute load average of the machine at the end of the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)}) on ${availableParallelism()} cores.`,
    );
  }
  const errs = [];
  for (const w of Object.keys(results.runs)) {
    for (const c of Object.keys(results.runs[w])) {
      for (const r of results.runs[w][c]) {
        if (r.error || r.non2xx || r.errors || r.timeouts) {
          errs.push(
            `- ${w} / ${c}: ${r.error ?? `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`}`,
          );
        }
      }
    }
  }
  if (errs.length) out.push('\nErrors:\n', ...errs);
  for (const [c, why] of Object.entries(skipped)) out.push(`\nSkipped ${c}: ${why}`);
  return out.join('\n');
}

async function main() {
  const started = Date.now();
  const wanted = args.only
    ? ['bare', ...args.only.split(',').filter((c) => c && c !== 'bare')]
    : [...CONTESTANTS];
  for (const c of wanted) if (!CONTESTANTS.includes(c)) throw new Error(`unknown contestant ${c}`);
  const results = { meta: {}, runs: {}, summary: {} };
  let skipped = {};
  let list = [];
  if (!args['micro-only']) {
    ({ list, skipped } = await available(wanted));
    results.meta = {
      rounds,
      duration,
      connections,
      sessions,
      keys: keyCount,
      contestants: list,
      skipped,
      node: process.version,
    };
    log(
      `contestants: ${list.join(', ')}${Object.keys(skipped).length ? ` (skipped: ${Object.keys(skipped).join(', ')})` : ''}`,
    );
    for (let round = 1; round <= rounds; round++) {
      for (const workload of workloads) {
        for (const contestant of list) {
          if (workload === 'keys' && contestant === 'bare') continue;
          let result;
          try {
            result = await runOne(contestant, workload);
          } catch (error) {
            result = { error: error.message.split('\n')[0] };
            log(error.stack);
          }
          result.round = round;
          results.runs[workload] ??= {};
          results.runs[workload][contestant] ??= [];
          results.runs[workload][contestant].push(result);
          log(`round ${round} ${workload} ${contestant}: ${JSON.stringify(result)}`);
        }
      }
    }
    // Same-round ratios, then medians.
    for (const workload of workloads) {
      const runs = results.runs[workload] ?? {};
      for (const contestant of list) {
        const mine = runs[contestant] ?? [];
        const ratios = mine.map((r) => {
          const bare = runs.bare?.find((b) => b.round === r.round);
          return bare?.rps && r.rps !== undefined ? r.rps / bare.rps : undefined;
        });
        const cpuRatios = mine.map((r) => {
          const bare = runs.bare?.find((b) => b.round === r.round);
          return bare?.cpuPerReq && r.cpuPerReq ? bare.cpuPerReq / r.cpuPerReq : undefined;
        });
        mine.forEach((r, i) => {
          r.ratio = ratios[i];
          r.cpuRatio = cpuRatios[i];
        });
        results.summary[workload] ??= {};
        results.summary[workload][contestant] = {
          ratio: median(ratios),
          rps: median(mine.map((r) => r.rps)),
          cpuRatio: median(cpuRatios),
          cpuPerReq: median(mine.map((r) => r.cpuPerReq)),
          p50: median(mine.map((r) => r.p50)),
          p99: median(mine.map((r) => r.p99)),
          rss: median(mine.map((r) => r.rss)),
          maxRss: median(mine.map((r) => r.maxRss)),
          load: median(mine.map((r) => r.load)),
          deficit: mine.map((r) => r.deficit),
          lost: mine.map((r) => r.lost),
        };
      }
    }
    if (args.profile) results.profiles = await profile(list);
  }
  if (!args['no-micro']) {
    const microJson = join(tmpRoot, 'micro.json');
    const microArgs = [join(here, 'micro.mjs'), '--json', microJson];
    if (args.quick) microArgs.push('--quick');
    const { code, stdout } = await runNode(microArgs, { timeoutMs: 900_000 });
    process.stdout.write(stdout);
    if (code !== 0) log(`micro.mjs exited ${code}`);
    try {
      results.micro = JSON.parse(readFileSync(microJson, 'utf8'));
    } catch {}
  }
  if (!args['micro-only']) {
    process.stdout.write(
      `\n## Load tests (${rounds} round(s) × ${duration} s, ${connections} connections, ${sessions} sessions)\n\n`,
    );
    process.stdout.write(`${tables(results, list, skipped)}\n`);
  }
  const targets = checkTargets(results);
  if (targets.length) {
    process.stdout.write('\n### Targets\n\n| target | measured | met |\n| --- | --- | --- |\n');
    for (const t of targets)
      process.stdout.write(
        `| ${t.target} | ${t.measured} | ${t.met === undefined ? '–' : t.met ? 'yes' : '**no**'} |\n`,
      );
  }
  if (results.profiles) {
    for (const p of results.profiles)
      process.stdout.write(`\n### Profile: ${p.contestant} / ${p.workload}\n\n${p.table}\n`);
  }
  results.targets = targets;
  results.meta.seconds = (Date.now() - started) / 1000;
  if (args.json) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`);
  log(`done in ${results.meta.seconds.toFixed(0)} s`);
}

function checkTargets(results) {
  const out = [];
  const s = results.summary ?? {};
  const m = results.micro ?? {};
  const ratio = (w, c, min) => {
    const v = s[w]?.[c]?.ratio;
    if (s[w]?.[c] === undefined) return;
    out.push({
      target: `${c} ${w} ≥ ${min}x bare`,
      measured: `${fmt(v)}x`,
      met: v === undefined ? false : v >= min,
    });
  };
  ratio('visit', 'ssjs-memory', 0.85);
  ratio('new', 'ssjs-memory', 0.8);
  ratio('visit', 'ssjs-file', 0.5);
  ratio('visit', 'ssjs-redis', 0.6);
  const heap = m.heap?.MemoryStore;
  if (heap)
    out.push({
      target: 'MemoryStore heap ≤ 250 B/session',
      measured: `${heap.bytesPerSession.toFixed(0)} B`,
      met: heap.bytesPerSession <= 250,
    });
  const cm = m.cleanup?.MemoryStore;
  if (cm)
    out.push({
      target: 'MemoryStore cleanup: no event-loop block > 5 ms',
      measured: `longest block ${fmt(cm.maxBlockMs, 1)} ms (wall ${fmt(cm.wallMs, 0)} ms, removed ${cm.removed})`,
      met: cm.maxBlockMs <= 5 && cm.removed === cm.expired,
    });
  const cf = m.cleanup?.FileStore;
  if (cf)
    out.push({
      target: 'FileStore cleanup ≤ 2 s, no block > 20 ms',
      measured: `wall ${fmt(cf.wallMs, 0)} ms, longest block ${fmt(cf.maxBlockMs, 1)} ms, removed ${cf.removed}`,
      met: cf.wallMs <= 2000 && cf.maxBlockMs <= 20 && cf.removed === cf.expired,
    });
  for (const c of ['ssjs-memory', 'ssjs-file', 'ssjs-redis']) {
    const keys = results.runs?.keys?.[c];
    const visit = results.runs?.visit?.[c];
    if (!keys && !visit) continue;
    const lost = [...(keys ?? []).map((r) => r.lost), ...(visit ?? []).map((r) => r.deficit)];
    out.push({
      target: `${c}: zero lost updates`,
      measured: `keys lost ${(keys ?? []).map((r) => r.lost ?? '–').join('/')}, visit deficit ${(visit ?? []).map((r) => r.deficit ?? '–').join('/')}`,
      met: lost.length > 0 && lost.every((v) => v === 0),
    });
  }
  return out;
}

async function profile(list) {
  const profiles = [];
  const keep = join(here, '.profiles');
  mkdirSync(keep, { recursive: true });
  const baseline = {};
  const order = list.filter((c) => c === 'bare' || SSJS.has(c));
  for (const workload of workloads.filter((w) => w !== 'keys')) {
    for (const contestant of order) {
      const dir = join(tmpRoot, `prof-${contestant}-${workload}`);
      mkdirSync(dir, { recursive: true });
      try {
        const result = await runOne(contestant, workload, {
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
