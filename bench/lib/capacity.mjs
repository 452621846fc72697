// The "Capacity" section of BENCHMARKS.md: what the measured figures say a deployment needs,
// with the arithmetic written out. Nothing here is measured; it only combines what the run
// measured (bytes per session at the top scale level, CPU per request, store ops/s).

const SESSIONS = 10_000_000;
const RATE = 50_000;
/** Cores are planned at this utilization, leaving headroom for peaks and GC. */
const UTILIZATION = 0.7;

const n = (v, d = 0) =>
  typeof v === 'number' && Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '–';
const gb = (bytes) => n(bytes / 1e9, 2);

export function capacity(results, p) {
  const sc = results.scale ?? {};
  const bytes = sc.bytes ?? {};
  const visit = results.summary?.visit ?? {};
  const ops = results.micro?.ops ?? {};
  const heapMicro = results.micro?.heap?.MemoryStore;
  const rows = [];
  const mem = bytes.memory ?? heapMicro;
  if (mem)
    rows.push([
      'MemoryStore',
      `${n(mem.bytesPerSession)} B of V8 heap (heapUsed growth after gc, ${n(mem.sessions)} sessions)`,
    ]);
  if (bytes.file)
    rows.push([
      'FileStore',
      `${n(bytes.file.bytesPerSession)} B of disk: a ${n(bytes.file.apparentBytes)} B file in ${n(bytes.file.bytesPerFile)} B of blocks + ${n(bytes.file.directoryBytesPerSession, 1)} B of directory; 1 inode (${n(bytes.file.files)} files)`,
    ]);
  if (bytes.redis)
    rows.push([
      'RedisStore',
      `${n(bytes.redis.bytesPerSession)} B of Redis \`used_memory\` (delta over ${n(bytes.redis.sessions)} sessions; other clients of the shared server add noise)`,
    ]);
  if (bytes.postgres)
    rows.push([
      'PostgresStore',
      `${n(bytes.postgres.bytesPerSession)} B of \`pg_total_relation_size\` (table + indexes, ${n(bytes.postgres.sessions)} rows)`,
    ]);
  if (rows.length === 0 && Object.keys(visit).length === 0) return;
  p('## Capacity', '', '### Bytes per small session ({ visits: 1 })', '');
  p('| store | measured |', '| --- | --- |', ...rows.map((r) => `| ${r[0]} | ${r[1]} |`), '');
  if (Object.keys(ops).length) {
    p(
      '### Store operations per second per core',
      '',
      'From the micro-benchmarks: one Node process (one core of JavaScript) driving the store, 32',
      'operations in flight. A visit-counter request costs one `get` and one `update`.',
      '',
      '| store | get/s | update/s | visits/s the store side allows (1 / (1/get + 1/update)) |',
      '| --- | ---: | ---: | ---: |',
    );
    for (const s of ['MemoryStore', 'FileStore', 'RedisStore', 'PostgresStore']) {
      const o = ops[s];
      if (!o?.get || !o?.update) continue;
      const g = o.get.opsPerSec;
      const u = o.update.opsPerSec;
      p(`| ${s} | ${n(g)} | ${n(u)} | ${n(1 / (1 / g + 1 / u))} |`);
    }
    p('');
  }
  p(
    `### ${n(SESSIONS)} live sessions at ${n(RATE)} requests/s`,
    '',
    `Every request is taken as a visit-counter request (a read and a key-level write), the worst`,
    `common case; cores are planned at ${UTILIZATION * 100} % busy.`,
    '',
  );
  const cores = (us) => (RATE * us) / 1e6 / UTILIZATION;
  const lines = [];
  const app = (id, what) => {
    const cpu = visit[id]?.cpuPerReq;
    if (!cpu) return undefined;
    const c = cores(cpu);
    lines.push(
      `- **${what}, app processes:** ${n(cpu)} µs of server CPU per request (measured, ${id}) × ${n(RATE)} req/s = ${n((RATE * cpu) / 1e6, 2)} cores busy; at ${UTILIZATION * 100} % that is **${n(Math.ceil(c))} Node processes** (one per core).`,
    );
    return c;
  };
  if (bytes.redis) {
    app('ssjs-redis', 'RedisStore');
    const total = SESSIONS * bytes.redis.bytesPerSession;
    const cpuPer = visit['ssjs-redis']?.redisCpuPerReq;
    lines.push(
      `- **RedisStore, memory:** ${n(SESSIONS)} × ${n(bytes.redis.bytesPerSession)} B = **${gb(total)} GB** of \`used_memory\`; with the usual 2× for fragmentation, fork-on-save and replication buffers, ${gb(2 * total)} GB per copy (primary and each replica).`,
    );
    lines.push(
      `- **RedisStore, commands:** 2 per request (\`HGETALL\`, one \`EVALSHA\`) = ${n(2 * RATE)} commands/s.` +
        (cpuPer
          ? ` Redis spent ${n(cpuPer, 1)} µs of its own CPU per request in the visit runs (\`INFO cpu\` delta / requests) → ${n((RATE * cpuPer) / 1e6, 2)} Redis cores; Redis runs commands on one thread, so at ${UTILIZATION * 100} % that is **${n(Math.ceil(cores(cpuPer)))} Redis Cluster primaries** (every command touches one key, so the store runs on a cluster unchanged), each holding ${gb(total / Math.max(1, Math.ceil(cores(cpuPer))))} GB.`
          : ' (Redis’s own CPU per request was not measured in this run.)'),
    );
  }
  if (bytes.postgres) {
    app('ssjs-postgres', 'PostgresStore');
    const total = SESSIONS * bytes.postgres.bytesPerSession;
    lines.push(
      `- **PostgresStore, storage:** ${n(SESSIONS)} × ${n(bytes.postgres.bytesPerSession)} B = **${gb(total)} GB** of table + indexes (before bloat; autovacuum keeps the dead tuples of the updates bounded); 2 statements per request = ${n(2 * RATE)} statements/s.`,
    );
  }
  if (bytes.file) {
    app('ssjs-file', 'FileStore');
    const total = SESSIONS * bytes.file.bytesPerSession;
    lines.push(
      `- **FileStore:** ${n(SESSIONS)} files × ${n(bytes.file.bytesPerSession)} B = **${gb(total)} GB** of disk and **${n(SESSIONS)} inodes** (ext4 at its default of one inode per 16 KiB needs a ≥ ${n((SESSIONS * 16384) / 1e9)} GB file system). One directory on one host: every app process must run on that host (\`multiProcess: true\` across processes), so ${n(RATE)} req/s needs that many cores on one machine — a deployment of this size wants Redis or PostgreSQL.`,
    );
  }
  if (mem) {
    const cpu = visit['ssjs-memory']?.cpuPerReq;
    lines.push(
      `- **MemoryStore:** ${n(SESSIONS)} × ${n(mem.bytesPerSession)} B = **${gb(SESSIONS * mem.bytesPerSession)} GB** of heap in one process (raise \`maxSessions\` and \`--max-old-space-size\`). Sessions live in that process only, and one process serves ${cpu ? `${n((1e6 / cpu) * UTILIZATION)} req/s at ${UTILIZATION * 100} % of one core (${n(cpu)} µs per request)` : 'one core’s worth of requests'}: it is for one process, not for ${n(RATE)} req/s.`,
    );
  }
  p(...lines, '');
}
