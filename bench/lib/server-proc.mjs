// One measured run: a fresh server process for a contestant, the load generator in another
// process, then the server stopped and its Redis keys and PostgreSQL table removed. Its files
// stay until the whole run ends (the orchestrator removes its temp root): on ext4 a burst of
// deletes makes every file created in the next minute or so slower (the allocator skips inodes
// freed recently), so deleting one contestant's sessions would slow down the next contestant's
// new sessions and make the figures depend on the order of the contestants.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteRedisPrefix } from './common.mjs';
import { needs } from './contestants.mjs';
import { lastJson, runNode, track, waitExit, writeBack } from './procs.mjs';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
let runNumber = 0;

/**
 * Starts `bench/server.mjs <contestant>`; resolves { port, stop() }. `ctx`: { tmpRoot,
 * prefixRoot, pgSchema, redis, pg }. `options.shared` = { dir, prefix, table } reuses data that
 * outlives the run (the scale benchmark's prefilled stores): it is then not removed on stop.
 */
export async function startServer(contestant, ctx, options = {}) {
  const { nodeArgs = [], env = {}, shared } = options;
  const id = `${contestant}-${++runNumber}`;
  const dir = shared?.dir ?? join(ctx.tmpRoot, id);
  mkdirSync(dir, { recursive: true });
  const prefix = shared?.prefix ?? `${ctx.prefixRoot}${id}:`;
  const table = shared?.table ?? `t_${runNumber}_${contestant.replace(/\W/g, '_')}`;
  const child = track(
    spawn(process.execPath, [...nodeArgs, join(benchDir, 'server.mjs'), contestant], {
      env: {
        ...process.env,
        BENCH_TMP: dir,
        BENCH_PREFIX: prefix,
        BENCH_PG_SCHEMA: ctx.pgSchema ?? 'public',
        BENCH_PG_TABLE: table,
        NODE_ENV: 'production',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
  });
  const readyMs = Number(env.BENCH_PREFILL ?? 0) > 0 ? 300_000 : 20_000;
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${contestant}: server not ready in ${readyMs / 1000} s\n${stderr}`)),
      readyMs,
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
      if (!shared) {
        if (ctx.redis && needs(contestant, 'redis'))
          await deleteRedisPrefix(ctx.redis, prefix).catch(() => {});
        if (ctx.pg && needs(contestant, 'pg'))
          await ctx.pg.query(`DROP TABLE IF EXISTS "${ctx.pgSchema}"."${table}"`).catch(() => {});
      }
      return stderr;
    },
  };
}

/** Runs one (contestant, workload) and resolves the load generator's figures. */
export async function runOne(contestant, workload, ctx, serverOptions) {
  const config = {
    workload,
    duration: ctx.duration,
    warmup: ctx.warmup,
    connections: ctx.connections,
    sessions: ctx.sessions,
    keys: ctx.keys,
  };
  // The load generator starts beside the server and gets the port on stdin once it is known.
  const starting = startServer(contestant, ctx, serverOptions);
  const loader = runNode([join(benchDir, 'load.mjs'), JSON.stringify(config)], {
    timeoutMs: (ctx.duration + ctx.warmup + 400) * 1000,
    stdin: starting.then((s) => `${s.port}\n`),
  });
  let server;
  try {
    server = await starting;
  } catch (error) {
    await loader.catch(() => {});
    throw error;
  }
  const redisCpu =
    ctx.redis && needs(contestant, 'redis') ? () => redisCpuMicros(ctx.redis) : undefined;
  const cpuBefore = await redisCpu?.();
  try {
    const { code, stdout } = await loader;
    if (code !== 0) throw new Error(`load generator exited ${code}`);
    const result = lastJson(stdout);
    const cpuAfter = await redisCpu?.();
    // Redis's own CPU over the whole run (warm-up and checks too) per request the server handled;
    // other clients of a shared Redis add to it.
    if (cpuBefore !== undefined && cpuAfter !== undefined && result.requestsTotal)
      result.redisCpuPerReq = (cpuAfter - cpuBefore) / result.requestsTotal;
    return result;
  } finally {
    const stopped = await server.stop();
    // Untimed: what this run left for the kernel to do is done before the next run starts.
    writeBack(ctx.tmpRoot);
    const stderr = stopped.replace(
      /Warning: connect\.session\(\) MemoryStore is not[\s\S]*?single process\.\n?/g,
      '',
    );
    if (stderr.trim()) ctx.log(`[${contestant} stderr] ${stderr.trim().slice(0, 2000)}`);
  }
}

/** Redis server CPU time so far (user + system, µs) from INFO cpu. */
async function redisCpuMicros(client) {
  try {
    const info = String(await client.sendCommand(['INFO', 'cpu']));
    const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
    const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
    return Number.isFinite(user + sys) ? (user + sys) * 1e6 : undefined;
  } catch {
    return undefined;
  }
}
