// From raw runs to figures: same-round ratios to bare Express, medians over rounds, targets.
import { median } from './common.mjs';

/** Fills `results.summary[workload][contestant]` from `results.runs` (ratios per round first). */
export function summarize(results) {
  results.summary = {};
  for (const [workload, runs] of Object.entries(results.runs)) {
    results.summary[workload] = {};
    for (const [contestant, mine] of Object.entries(runs)) {
      for (const r of mine) {
        const bare = runs.bare?.find((b) => b.round === r.round);
        r.ratio = bare?.rps && r.rps !== undefined ? r.rps / bare.rps : undefined;
        r.cpuRatio = bare?.cpuPerReq && r.cpuPerReq ? bare.cpuPerReq / r.cpuPerReq : undefined;
      }
      const pick = (f) => median(mine.map((r) => r[f]));
      results.summary[workload][contestant] = {
        ratio: pick('ratio'),
        rps: pick('rps'),
        cpuRatio: pick('cpuRatio'),
        cpuPerReq: pick('cpuPerReq'),
        p50: pick('p50'),
        p99: pick('p99'),
        rss: pick('rss'),
        maxRss: pick('maxRss'),
        load: pick('load'),
        redisCpuPerReq: pick('redisCpuPerReq'),
        rounds: mine.filter((r) => r.ratio !== undefined).length,
      };
    }
  }
  return results.summary;
}

const x = (v) => (v === undefined ? '–' : `${v.toFixed(2)}x`);

/** Every target with what was measured; `met` is undefined when it could not be measured. */
export function checkTargets(results) {
  const out = [];
  const s = results.summary ?? {};
  const ratioOf = (w, c) => s[w]?.[c]?.ratio;
  const roundsOf = (w, c) => s[w]?.[c]?.rounds ?? 0;
  const atLeast = (w, c, min, extra = '') => {
    if (s[w]?.[c] === undefined) return;
    const v = ratioOf(w, c);
    out.push({
      group: 'throughput',
      target: `${c} ${w} ≥ ${min}x bare${extra}`,
      measured: `${x(v)} (${roundsOf(w, c)} rounds)`,
      met: v === undefined ? false : v >= min,
    });
  };
  const relative = (w, c, peerW, peer, factor) => {
    if (s[w]?.[c] === undefined || s[peerW]?.[peer] === undefined) return;
    const mine = ratioOf(w, c);
    const theirs = ratioOf(peerW, peer);
    const v = mine !== undefined && theirs ? mine / theirs : undefined;
    out.push({
      group: 'throughput',
      target: `${c} ${w} ≥ ${factor}x ${peer}${peerW === w ? '' : ` ${peerW}`}`,
      measured: `${v === undefined ? '–' : `${v.toFixed(2)}x`} (${x(mine)} vs ${x(theirs)})`,
      met: v === undefined ? false : v >= factor,
    });
  };
  atLeast('visit', 'ssjs-memory', 0.85);
  atLeast('new', 'ssjs-memory', 0.85);
  atLeast('visit', 'ssjs-file', 0.6);
  atLeast('new', 'ssjs-file', 0.3);
  relative('new', 'ssjs-file', 'new', 'session-file-store', 3);
  atLeast('stale', 'ssjs-file', 0.3);
  relative('stale', 'ssjs-file', 'stale', 'session-file-store', 10);
  atLeast('visit', 'ssjs-redis', 0.8);
  atLeast('new', 'ssjs-redis', 0.85);
  relative('visit', 'ssjs-postgres', 'visit', 'connect-pg-simple', 1.5);
  relative('new', 'ssjs-postgres', 'new', 'connect-pg-simple', 1.5);
  relative('visit', 'es-ssjs-file', 'visit', 'session-file-store', 3);
  for (const kind of ['memory', 'file', 'redis']) {
    relative('visit', `dropin-${kind}`, 'visit', `es-ssjs-${kind}`, 1.3);
  }
  relative('new', 'dropin-memory', 'new', 'express-session-memory', 1.3);
  relative('new', 'dropin-file', 'new', 'session-file-store', 1.3);
  relative('new', 'dropin-redis', 'new', 'connect-redis', 1.3);

  const ours = (c) => /^(ssjs|es-ssjs|dropin)-/.test(c);
  const contestants = new Set([
    ...Object.keys(results.runs?.keys ?? {}),
    ...Object.keys(results.runs?.visit ?? {}),
  ]);
  for (const c of contestants) {
    if (!ours(c)) continue;
    const keys = results.runs?.keys?.[c] ?? [];
    const visit = results.runs?.visit?.[c] ?? [];
    const lost = [...keys.map((r) => r.lost), ...visit.map((r) => r.deficit)];
    out.push({
      group: 'correctness',
      target: `${c}: zero lost updates`,
      measured: `keys lost ${keys.map((r) => r.lost ?? '–').join('/') || '–'}, visit deficit ${visit.map((r) => r.deficit ?? '–').join('/') || '–'}`,
      met: lost.length > 0 && lost.every((v) => v === 0),
    });
  }
  for (const r of Array.isArray(results.users) ? results.users : []) {
    if (r.kind !== 'visit') continue;
    out.push({
      group: 'users',
      target: `${r.store}: the per-user index costs < 5 % on the visit counter`,
      measured: `${r.costPct === undefined ? '–' : `${r.costPct.toFixed(1)} %`} (${r.rounds} rounds)`,
      met: r.costPct === undefined ? undefined : r.costPct < 5,
    });
  }
  out.push(...(results.scale?.targets ?? []));
  return out;
}
