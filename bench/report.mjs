#!/usr/bin/env node
// Writes BENCHMARKS.md and bench/charts/{ratios,scale}.svg from a results file of run.mjs.
//   node bench/report.mjs [bench/results/latest.json]
// Every figure in the report comes from that file; the prose that explains them is in
// bench/notes.md, included as is.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capacity } from './lib/capacity.mjs';
import { median } from './lib/common.mjs';
import { BY_ID, label, THROUGHPUT, WORKLOAD_LABELS } from './lib/contestants.mjs';
import { barChart, lineChart } from './lib/svg.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const fmt = (v, d = 2) =>
  typeof v === 'number' && Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '–';
const int = (v) => fmt(v, 0);
const mb = (b) => (typeof b === 'number' ? int(b / 1048576) : '–');
const kind = (id) => {
  const c = BY_ID.get(id);
  return c?.ssjs ? 'ours' : c?.interop ? 'interop' : 'peer';
};

/** Writes the report files; returns their paths relative to the repository. */
export function writeReport(results, { out = root } = {}) {
  const charts = join(out, 'bench', 'charts');
  mkdirSync(charts, { recursive: true });
  const written = [];
  const write = (path, text) => {
    writeFileSync(path, text);
    written.push(relative(out, path));
  };
  write(join(charts, 'ratios.svg'), ratiosChart(results));
  const scaleSvg = scaleChart(results);
  if (scaleSvg) write(join(charts, 'scale.svg'), scaleSvg);
  write(join(out, 'BENCHMARKS.md'), markdown(results, Boolean(scaleSvg)));
  return written;
}

function ratiosChart(results) {
  const s = results.summary ?? {};
  const sections = [];
  for (const w of THROUGHPUT) {
    if (!s[w]) continue;
    const bars = Object.keys(s[w])
      .filter((c) => c !== 'bare')
      .map((c) => ({ label: label(c), value: s[w][c].ratio, kind: kind(c) }));
    sections.push({ title: WORKLOAD_LABELS[w], bars: orderBars(bars) });
  }
  const m = results.meta;
  return barChart({
    title: 'Throughput relative to bare Express (median of same-round ratios)',
    subtitle: `${m.rounds} round(s) × ${m.duration} s, ${m.connections} connections, ${int(m.sessions)} sessions, Node ${m.node}, ${m.cpus} cores`,
    sections,
  });
}

/** Ours first, then the drop-in/interop contestants, then the peers; each store family together. */
function orderBars(bars) {
  const rank = { ours: 0, interop: 1, peer: 2 };
  return bars.sort((a, b) => rank[a.kind] - rank[b.kind]);
}

function scaleChart(results) {
  const points = results.scale?.points;
  if (!points || Object.keys(points).length === 0) return undefined;
  const series = Object.entries(points)
    .map(([store, byLevel]) => ({
      label: `ssjs ${store}`,
      points: Object.entries(byLevel)
        .filter(([, p]) => typeof p.ratio === 'number')
        .map(([level, p]) => [Number(level), p.ratio])
        .sort((a, b) => a[0] - b[0]),
    }))
    .filter((s) => s.points.length > 0);
  if (series.length === 0) return undefined;
  return lineChart({
    title: 'Visit counter as the store grows',
    subtitle: 'median same-round ratio to bare Express; 1,000 sessions visited, the rest stored',
    series,
    xLabel: 'live sessions in the store (log scale)',
    yLabel: 'ratio to bare Express',
  });
}

function markdown(results, hasScale) {
  const m = results.meta;
  const lines = [];
  const p = (...l) => lines.push(...l);
  p(
    '# Benchmarks',
    '',
    'session-store-js against what people run today — bare Express, express-session with its',
    'MemoryStore, memorystore, session-file-store, connect-redis and connect-pg-simple — on the same',
    'workloads, with correctness checks. Everything in this file is written by `npm run bench` from',
    'the figures it measured (`bench/results/latest.json`; the code is in `bench/`, the prose in',
    '`bench/notes.md`). Regenerate it from a results file with `node bench/report.mjs <file>`.',
    '',
  );
  if (m.quick)
    p(
      '> **This is a `--quick` smoke run** (1 round of 1 s, small scale levels): the figures only show',
      '> that every part runs. Run `npm run bench` for figures to compare.',
      '',
    );
  const loads = allRuns(results)
    .map((r) => r.load)
    .filter((v) => typeof v === 'number');
  p(
    `**Command:** \`npx tshy && ${m.command}\` — ${m.rounds} interleaved round(s) × ${m.duration} s per contestant and workload${m.warmup ? ` (each after ${m.warmup} s of the same traffic, untimed)` : ''}, ${m.connections} connections, ${int(m.sessions)} sessions; then the scale and micro-benchmarks. It took ${fmt(m.seconds / 60, 1)} minutes on ${m.date?.slice(0, 10)}.`,
    '',
    `**Machine:** ${m.cpus} cores (${m.cpuModel ?? 'unknown CPU'}), ${m.memoryGB} GB RAM, Node ${m.node}. 1-minute load average: ${fmt(m.loadBefore, 1)} at the start, ${loads.length ? `${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)} (median ${fmt(median(loads), 1)}) during the runs` : 'not sampled during the runs'}, ${fmt(m.loadAfter, 1)} at the end.`,
    '',
    '**How to read it:** server and load generator are separate processes; contestants run round by',
    'round, and every ratio is throughput divided by bare Express’s throughput in the same round',
    '(median over rounds). "Server CPU µs/req" is the server process’s CPU time per request. The',
    'visit counter checks that the sum of all visit counts equals the requests served (a deficit is',
    'lost updates); the concurrent-keys workload sends concurrent requests with one cookie, each',
    'setting its own key, and counts the keys missing afterwards. Workloads: **visit counter** (read',
    'a key, write it back), **new visitor** (every request without a cookie creates a session),',
    '**stale cookie** (every request carries a correctly signed cookie of a session that does not',
    'exist: a store miss, then a new session).',
    '',
    '![Throughput relative to bare Express](bench/charts/ratios.svg)',
    '',
  );
  targets(results, p);
  const notes = join(here, 'notes.md');
  if (existsSync(notes)) p(readFileSync(notes, 'utf8').trim(), '');
  throughput(results, p);
  scale(results, p, hasScale);
  capacity(results, p);
  micro(results, p);
  users(results, p);
  profiles(results, p);
  p(
    '## Caveats',
    '',
    '- One machine: server, load generator, Redis and PostgreSQL share the cores over loopback, so',
    '  absolute figures are low and the load generator competes for CPU; ratios within a round are',
    '  what compare. Other work on the machine shows in the load average above.',
    '- Redis’s and PostgreSQL’s own CPU is not in "server CPU µs/req", which flatters those contestants there.',
    '- FileStore figures depend on the file system: creating a file costs ~0.1–1 ms of journal work',
    '  on a VM’s ext4, ~20 µs on tmpfs.',
    '- Latency percentiles are whole milliseconds (autocannon).',
    '- Micro-benchmark Redis figures are pipelined throughput (32 in flight), not round-trip latency.',
    '',
  );
  return `${lines.join('\n')}`;
}

function allRuns(results) {
  return Object.values(results.runs ?? {}).flatMap((by) => Object.values(by).flat());
}

function targets(results, p) {
  const list = results.targets ?? [];
  if (list.length === 0) return;
  p('## Targets', '', '| target | measured | met |', '| --- | --- | --- |');
  for (const t of list)
    p(`| ${t.target} | ${t.measured} | ${t.met === undefined ? '–' : t.met ? 'yes' : '**no**'} |`);
  p('');
}

function throughput(results, p) {
  const s = results.summary ?? {};
  const ws = THROUGHPUT.filter((w) => s[w]);
  if (ws.length === 0) return;
  p('## Load tests', '');
  for (const w of ws) {
    p(
      `### ${WORKLOAD_LABELS[w]}`,
      '',
      '| contestant | ratio | req/s | server CPU µs/req | CPU ratio | p50 ms | p99 ms | RSS end MB | RSS peak MB |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [c, v] of Object.entries(s[w])) {
      p(
        `| ${label(c)} | ${fmt(v.ratio)} | ${int(v.rps)} | ${int(v.cpuPerReq)} | ${fmt(v.cpuRatio)} | ${fmt(v.p50, 1)} | ${fmt(v.p99, 1)} | ${mb(v.rss)} | ${mb(v.maxRss)} |`,
      );
    }
    p('');
  }
  p(
    '### Lost updates (per round)',
    '',
    '| contestant | visit counter: deficit (sum of visits vs. completed requests) | concurrent keys: keys lost |',
    '| --- | --- | --- |',
  );
  const names = new Set([
    ...Object.keys(results.runs.visit ?? {}),
    ...Object.keys(results.runs.keys ?? {}),
  ]);
  for (const c of names) {
    if (c === 'bare') continue;
    const visit = (results.runs.visit?.[c] ?? []).map(
      (r) => (r.deficit ?? '–') + (r.expected ? ` of ${r.expected}` : ''),
    );
    const keys = (results.runs.keys?.[c] ?? []).map(
      (r) => `${r.lost ?? '–'} of ${r.keys ?? '?'}${r.failed ? ` (+${r.failed} failed)` : ''}`,
    );
    p(`| ${label(c)} | ${visit.join(', ') || '–'} | ${keys.join(', ') || '–'} |`);
  }
  p('');
  const errs = [];
  for (const [w, by] of Object.entries(results.runs))
    for (const [c, runs] of Object.entries(by))
      for (const r of runs)
        if (r.error || r.non2xx || r.errors || r.timeouts)
          errs.push(
            `- ${w} / ${c}, round ${r.round}: ${r.error ?? `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`}`,
          );
  if (errs.length) p('Errors:', '', ...errs, '');
  for (const [c, why] of Object.entries(results.meta.skipped ?? {}))
    p(`- Not run: ${label(c)}: ${why}`);
  if (Object.keys(results.meta.skipped ?? {}).length) p('');
}

function scale(results, p, hasScale) {
  const sc = results.scale;
  if (!sc) return;
  p(
    '## Scale: flat as the store grows',
    '',
    'The visit counter on 1,000 sessions while the store holds 1,000, 100,000 or 1,000,000 live',
    'sessions (filled directly in each store’s format, not over HTTP; 1,000 of them visited), next',
    `to a bare Express run in the same round; ${sc.rounds} round(s) per level, medians. Every level,`,
    'the first too, is measured here the same way: before each run the files are written back to',
    'disk (`sync -f`) and the PostgreSQL table is vacuumed, as a running deployment keeps them.',
    '',
  );
  if (hasScale) p('![Visit counter as the store grows](bench/charts/scale.svg)', '');
  const levels = [...new Set([...sc.levels, ...(sc.fileLevels ?? [])])].sort((a, b) => a - b);
  p(
    `| store | ${levels.map((l) => `${int(l)} sessions`).join(' | ')} | loss first → last |`,
    `| --- | ${levels.map(() => '---:').join(' | ')} | ---: |`,
  );
  for (const [store, byLevel] of Object.entries(sc.points)) {
    const cells = levels.map((l) => {
      const pt = byLevel[l];
      return pt ? `${fmt(pt.ratio)}x (${int(pt.rps)} req/s)` : 'not run';
    });
    const loss = sc.loss?.[store];
    p(`| ${store} | ${cells.join(' | ')} | ${loss ? `${fmt(loss.loss * 100, 1)} %` : '–'} |`);
  }
  p('');
  const deficits = Object.entries(sc.points).flatMap(([store, byLevel]) =>
    Object.entries(byLevel).map(
      ([l, pt]) => `${store} ${int(Number(l))}: ${pt.deficit?.join('/') ?? '–'}`,
    ),
  );
  p(`Lost updates (visit deficit per round): ${deficits.join('; ')}.`, '');
  if (sc.prefill?.file) {
    const f = sc.prefill.file;
    const top = Math.max(...sc.levels);
    const fileTop = Math.max(...(sc.fileLevels ?? sc.levels));
    p(
      `FileStore prefill: ${int(f.count)} files in ${fmt(f.seconds, 1)} s (${int(f.perSecond)} files/s, one \`open\`/\`write\`/\`futimes\`/\`close\` each).` +
        (fileTop < top
          ? ` At that rate ${int(top)} files take ${int(top / f.perSecond)} s to write and about as long again to delete, plus ${fmt((top * (sc.bytes?.file?.bytesPerSession ?? 4096)) / 1e9, 1)} GB of disk: the default run stops FileStore at ${int(fileTop)} (\`--scale-file-levels 1000,100000,1000000\` runs it).`
          : ''),
      '',
    );
  }
  const streams = Object.entries(sc.stream ?? {}).filter(([, v]) => v);
  if (streams.length) {
    p(
      '### `sessions()` streaming',
      '',
      '| store | sessions | streamed | seconds | RSS before MB | RSS peak MB | growth MB | all pairs at once, at least MB |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [store, v] of streams)
      p(
        `| ${store} | ${int(v.sessions)} | ${int(v.seen)} | ${fmt(v.seconds, 1)} | ${mb(v.rssBefore)} | ${mb(v.rssPeak)} | ${mb(v.rssGrowth)} | ${mb(v.heldBytes)} |`,
      );
    p('');
  }
  const cleanups = Object.entries(sc.cleanup ?? {});
  if (cleanups.length) {
    p(
      '### Cleanup: the same number of expired sessions among more and more live ones',
      '',
      '| store | sessions in all | removed | wall ms | longest event-loop block ms |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const [store, byLevel] of cleanups)
      for (const [level, v] of Object.entries(byLevel))
        if (v)
          p(
            `| ${store} | ${int(Number(level))} | ${int(v.removed)} | ${int(v.wallMs)} | ${fmt(v.maxBlockMs, 1)} |`,
          );
    p('');
  }
}

function micro(results, p) {
  const m = results.micro;
  if (!m) return;
  p('## Micro-benchmarks', '');
  if (Object.keys(m.ops ?? {}).length) {
    p(
      '### Store operations per second (one Node process, 32 in flight, distinct sessions)',
      '',
      '| store | get | create | update | touch | destroy |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [s, r] of Object.entries(m.ops))
      p(
        `| ${s} | ${['get', 'create', 'update', 'touch', 'destroy'].map((op) => int(r?.[op]?.opsPerSec)).join(' | ')} |`,
      );
    p('');
  }
  if (Object.keys(m.cleanup ?? {}).length) {
    const first = Object.values(m.cleanup).find(Boolean);
    p(
      `### Cleanup of ${int(first?.sessions)} sessions, 10 % expired`,
      '',
      '| store | removed | wall ms | longest block ms (1 ms probe) | ELD max ms | idle probe block ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [s, r] of Object.entries(m.cleanup))
      p(
        `| ${s} | ${int(r?.removed)} of ${int(r?.expired)} | ${int(r?.wallMs)} | ${fmt(r?.maxBlockMs, 1)} | ${fmt(r?.eldMaxMs, 1)} | ${fmt(r?.idleBlockMs, 1)} |`,
      );
    p('');
  }
  if (Object.keys(m.heap ?? {}).length) {
    const first = Object.values(m.heap).find(Boolean);
    p(
      `### Memory per small session ({ visits: 1 }, ${int(first?.sessions)} sessions, after gc: V8 heap + ArrayBuffers)`,
      '',
      '| store | bytes / session |',
      '| --- | ---: |',
    );
    for (const [s, r] of Object.entries(m.heap)) p(`| ${s} | ${int(r?.bytesPerSession)} |`);
    p('');
  }
  for (const [k, v] of Object.entries(m.errors ?? {})) p(`- Failed: ${k}: ${v}`);
}

function users(results, p) {
  const all = Array.isArray(results.users) ? results.users : [];
  const list = all.filter((r) => r.kind !== 'visit');
  const visits = all.filter((r) => r.kind === 'visit');
  if (all.length === 0) return;
  p('## Per-user sessions (`bench/users.mjs`)', '');
  if (list.length > 0) {
    p(
      'Sessions bound to users (`regenerate({ user })`), 5 per user; per call, on random users.',
      '',
      '| store | sessions | listUserSessions µs | destroyUserSessions µs | login: create → createForUser µs | request: load → signed-in load µs |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of list)
      p(
        `| ${r.store} | ${int(r.sessions)} | ${fmt(r.listUserSessionsUs, 1)} | ${fmt(r.destroyUserSessionsUs, 1)} | ${fmt(r.createUs, 1)} → ${fmt(r.createForUserUs, 1)} (+${r.loginIndexCostPct} %) | ${fmt(r.getUs, 1)} → ${fmt(r.boundLoadUs, 1)} (+${r.requestIndexCostPct} %) |`,
      );
    p('');
  }
  if (visits.length > 0) {
    p(
      `What the per-user index costs on the visit counter over HTTP: one server process per round holds 1,000 sessions bound to users (signed in with \`regenerate({ user })\`) and 1,000 unbound ones, and the whole load switches between the two every 0.2 s (in the order a b b a) for ${visits[0].duration} s; a response counts for its session's side. Both sides share the process, the JIT and the moment, so they differ only in their sessions. Which side is made first alternates by round (in null runs, both sides unbound, the side made second ran a few per cent faster); the cost is 1 − the geometric mean over ${visits[0].rounds} rounds of the bound / unbound throughput ratio.`,
      '',
      '| store | unbound req/s | bound req/s | bound / unbound | cost | per round | server CPU µs/req |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
    );
    for (const r of visits)
      p(
        `| ${r.store} | ${int(r.unboundRps)} | ${int(r.boundRps)} | ${fmt(r.ratio, 3)} | ${fmt(r.costPct, 1)} % | ${(r.ratios ?? []).map((x) => fmt(x, 3)).join(' ')} | ${int(r.cpuPerReq)} |`,
      );
    p('');
  }
}

function profiles(results, p) {
  if (!results.profiles?.length) return;
  p('## Profiles (main-thread CPU per request, compared with bare Express)', '');
  for (const pr of results.profiles)
    p(`### ${label(pr.contestant)} / ${WORKLOAD_LABELS[pr.workload]}`, '', pr.table, '');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? join(here, 'results', 'latest.json');
  const written = writeReport(JSON.parse(readFileSync(file, 'utf8')));
  process.stderr.write(`wrote ${written.join(', ')}\n`);
}
