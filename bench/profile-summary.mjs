// Summarizes `.cpuprofile` files (from `node --cpu-prof`): the top functions by self time.
// CLI: `node bench/profile-summary.mjs <file-or-dir> [top=20]`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Self time (µs) per function (name + file + line), summed over every profile in `path`. */
export function selfTimes(path) {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(path, f))
    : [path];
  const totals = new Map();
  let all = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      self.set(id, (self.get(id) ?? 0) + dt);
    });
    for (const [id, us] of self) {
      const { functionName, url, lineNumber } = byId.get(id).callFrame;
      const where = url ? `${shorten(url)}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'}\t${where}`;
      totals.set(key, (totals.get(key) ?? 0) + us);
      all += us;
    }
  }
  return { totals, all, files: files.length };
}

function shorten(url) {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith('/') ? relative(process.cwd(), path) : path;
}

/** Which part of the stack a function belongs to, from its name and location. */
function area(name, where) {
  if (name === '(idle)') return 'idle (waiting: I/O, thread pool, load generator)';
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return 'V8/native (program)';
  if (where.startsWith('dist/') || where.includes('session-store-js/dist/'))
    return 'session-store-js (dist/)';
  if (where.startsWith('bench/')) return 'benchmark app (bench/)';
  if (/^(express-session|memorystore|session-file-store|connect-redis)\//.test(where))
    return 'peer session stores';
  if (/^(@redis|redis|ioredis|cluster-key-slot)\//.test(where)) return 'Redis client';
  if (
    /^(express|router|body-parser|finalhandler|send|serve-static|parseurl|qs|cookie|cookie-signature|on-finished|statuses|content-type|mime|depd|debug|iconv-lite|encodeurl|escape-html|fresh|etag|vary|type-is|accepts|negotiator|proxy-addr|forwarded|ipaddr\.js|range-parser|safe-buffer|setprototypeof|http-errors|media-typer|raw-body|bytes|merge-descriptors|content-disposition|utils-merge|path-to-regexp|call-bind|get-intrinsic|side-channel|object-inspect|math-intrinsics|es-errors|function-bind|hasown|gopd|dunder-proto|es-object-atoms|has-symbols|once|wrappy|ee-first|unpipe|toidentifier|inherits|mime-types|mime-db|is-promise|router|call-bound|side-channel-list|side-channel-map|side-channel-weakmap|es-define-property|get-proto)\//.test(
      where,
    )
  )
    return 'Express and its dependencies';
  if (where.startsWith('node:')) return 'Node.js core (JS)';
  if (where === '') return 'native / C++ builtins (writev, crypto, fs…)';
  return 'other JS';
}

/** Self time (µs) per area of the stack. */
export function areaTotals(path) {
  const { totals, all, files } = selfTimes(path);
  const areas = new Map();
  for (const [key, us] of totals) {
    const [name, where] = key.split('\t');
    const a = area(name, where);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  return { areas, all, files };
}

const IDLE = 'idle (waiting: I/O, thread pool, load generator)';

/**
 * Per-request CPU by area next to a baseline profile (bare Express): where the extra
 * microseconds of each request go. `requests` and `baseRequests` are the requests each process
 * handled in all. Idle time is left out (it is not CPU).
 */
export function compareByArea(path, requests, basePath, baseRequests) {
  const mine = areaTotals(path).areas;
  const base = areaTotals(basePath).areas;
  const names = new Set([...mine.keys(), ...base.keys()]);
  names.delete(IDLE);
  const rows = [...names].map((a) => {
    const m = (mine.get(a) ?? 0) / requests;
    const b = (base.get(a) ?? 0) / baseRequests;
    return [a, b, m, m - b];
  });
  rows.sort((x, y) => y[3] - x[3]);
  const sum = (i) => rows.reduce((t, r) => t + r[i], 0);
  const sign = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
  return [
    '| area | bare µs/req | this µs/req | Δ µs/req |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r[0]} | ${r[1].toFixed(1)} | ${r[2].toFixed(1)} | ${sign(r[3])} |`),
    `| **main-thread CPU total** | ${sum(1).toFixed(1)} | ${sum(2).toFixed(1)} | ${sign(sum(3))} |`,
  ].join('\n');
}

/** A markdown table of self time per area of the stack. */
export function summarizeByArea(path) {
  const { areas, all, files } = areaTotals(path);
  if (files === 0) return '(no .cpuprofile written)';
  const lines = ['| area | self % | self ms |', '| --- | ---: | ---: |'];
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1])) {
    lines.push(`| ${a} | ${((100 * us) / all).toFixed(1)} | ${(us / 1000).toFixed(0)} |`);
  }
  return lines.join('\n');
}

/**
 * A markdown table of the `top` functions by self time; with `requests`, also µs per request.
 * `filter(where)` keeps only some locations (e.g. session-store-js's own code).
 */
export function summarizeProfile(path, top = 20, requests = undefined, filter = () => true) {
  const { totals, all, files } = selfTimes(path);
  if (files === 0) return '(no .cpuprofile written)';
  const rows = [...totals]
    .filter(([key]) => filter(key.split('\t')[1]))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
  const lines = [
    `| self % | self ms |${requests ? ' µs/req |' : ''} function | location |`,
    `| ---: | ---: |${requests ? ' ---: |' : ''} --- | --- |`,
  ];
  for (const [key, us] of rows) {
    const [name, where] = key.split('\t');
    const perReq = requests ? ` ${(us / requests).toFixed(2)} |` : '';
    lines.push(
      `| ${((100 * us) / all).toFixed(1)} | ${(us / 1000).toFixed(0)} |${perReq} ${name.replace(/\|/g, '\\|')} | ${where} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node bench/profile-summary.mjs <file.cpuprofile|dir> [top]');
    process.exit(2);
  }
  console.log(
    `${summarizeByArea(target)}\n\n${summarizeProfile(target, Number(process.argv[3] ?? 20))}`,
  );
}
