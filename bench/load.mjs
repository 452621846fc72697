// The load generator, in its own process: `node bench/load.mjs '<json config>'`.
// Config: { port, workload: 'visit'|'new'|'stale'|'keys', duration (s), warmup (s), connections,
// sessions, keys }.
// Prints one JSON line with the result on stdout.
//
//   visit: warm-up = `sessions` requests without a cookie (each creates a session with visits=1;
//          the Set-Cookie of each is kept); then autocannon for `duration` s where connection c
//          cycles through sessions c, c+connections, c+2·connections … so no two requests of one
//          session are ever in flight together. Afterwards every session is read once
//          (/__read) and the sum of visits is compared with warm-up + completed /visit requests.
//   new:   warm-up = `sessions` requests without a cookie (discarded); then autocannon on /new
//          without cookies, so every request creates a session.
//   stale: warm-up as for `new`; then autocannon on /new where every request carries a new,
//          correctly signed cookie of a session id that was never stored: a store miss, then a
//          new session (a returning visitor whose session expired or was cleaned up).
//   visit, new and stale first run `warmup` s (default 1) of the same traffic, untimed, so the
//   timed window measures code the JIT has already optimized, not its compilation (without it,
//   a 2-s window of a session contestant spent a third of its CPU warming up).
//   alternate: two populations of `sessions` sessions (made on `paths.a` and `paths.b` as `visit`
//          makes its sessions), then one timed run on /visit whose whole load switches population
//          every `phase` s (default 0.2, in the order a b b a …); a response counts for its
//          request's population. Prints each side's rps over whole groups of a b b a, their
//          ratio (b / a), the ratio per group, and the deficit of both
//          populations. What differs between the sides is only their sessions (the per-user
//          index cost: bound against unbound sessions in one process, one JIT, the same moment).
//   keys:  one session is created, then `keys` requests with that same cookie, `connections`
//          in flight at a time, request i setting k<i>; afterwards /__keys counts the survivors.
import http from 'node:http';
import os from 'node:os';
import autocannon from 'autocannon';
import { randomId, signedCookie } from './lib/common.mjs';

const config = JSON.parse(process.argv[2]);
// Without a port in the config, the port comes as the first stdin line: the orchestrator starts
// this process while the server is still starting, so both start-ups overlap.
const port = config.port ?? (await firstLine(process.stdin));
const {
  workload,
  duration = 5,
  warmup = 1,
  connections = 50,
  sessions = 1000,
  keys = 1000,
} = config;

function firstLine(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        stream.pause();
        resolve(Number(text.slice(0, end)));
      }
    });
    stream.on('end', () => reject(new Error('no port on stdin')));
  });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });

function get(path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** Runs `count` tasks, `concurrency` at a time; resolves their results in order. */
async function pool(count, concurrency, task) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** The `name=value` part of our session cookie in a response, or undefined. */
function sessionCookie(res) {
  const list = res.headers['set-cookie'] ?? [];
  const cookie = list.find((c) => c.startsWith('sid='));
  return cookie?.split(';')[0];
}

function stats() {
  return get('/__stats').then((res) => JSON.parse(res.body));
}

const sameWork = (a, b) => a.visit === b.visit && a.new === b.new && a.key === b.key;

/** Stats once the server has finished every request (the run's end cuts some off client-side). */
async function settledStats() {
  for (let i = 0; i < 750; i++) {
    const s = await stats();
    if (s.inflight === 0) {
      // A grace period for writes that finish after their response (express-session saves in
      // res.end), then the figures must be unchanged.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const again = await stats();
      if (again.inflight === 0 && sameWork(again.counters, s.counters)) return again;
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Still busy after ~15 s: report what there is, flagged (the deficit is then not reliable).
  return { ...(await stats()), unsettled: true };
}

function cannon({ path, ...options }) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `http://127.0.0.1:${port}${path}`, connections, duration, pipelining: 1, ...options },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

/** The untimed run of the same traffic before the timed one (none when `warmup` is 0). */
async function warmUp(options) {
  if (warmup > 0) await cannon({ ...options, duration: warmup });
  await settledStats();
}

function summarize(result) {
  return {
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.average,
  };
}

async function visit() {
  const warm = await pool(sessions, connections, () => get('/visit'));
  const cookies = warm.map(sessionCookie);
  const warmOk = warm.filter((r) => r.status === 200).length;
  const isBare = cookies.every((c) => c === undefined);
  // Each run gives connection c the sessions c, c+connections, … afresh, so no two requests of
  // one session are in flight together in the warm-up either.
  const setupClient = (client) => {
    if (isBare) return;
    const c = nextClient++ % connections;
    let turn = 0;
    const mine = cookies.filter((_, i) => i % connections === c);
    const next = () => mine[turn++ % mine.length];
    client.setHeaders({ cookie: next() });
    client.on('response', () => client.setHeaders({ cookie: next() }));
  };
  await warmUp({ path: '/visit', setupClient });
  nextClient = 0;
  const before = await settledStats();
  const result = await cannon({ path: '/visit', setupClient });
  const after = await settledStats();
  const out = { ...summarize(result), warmup: warmOk };
  // Completed /visit responses: warm-up ones plus every one of the timed run (also those the
  // run's end cut off on the client side, which the server still finished).
  if (!isBare) Object.assign(out, await visitsLanded(cookies, after.counters.visit));
  if (after.unsettled) out.unsettled = true;
  out.served = after.counters.visit - before.counters.visit;
  out.cpuPerReq = (after.cpuMicros - before.cpuMicros) / out.served;
  out.rss = after.rss;
  out.maxRss = after.maxRss;
  out.load = os.loadavg()[0];
  return out;
}
let nextClient = 0;

/** Every visit landed? The sum of the sessions' visit counts against the `served` visits. */
async function visitsLanded(cookies, served) {
  const reads = await pool(cookies.length, connections, (i) =>
    cookies[i] ? get('/__read', { cookie: cookies[i] }) : Promise.resolve({ body: 'null' }),
  );
  const sum = reads.reduce((n, r) => n + (JSON.parse(r.body)?.visits ?? 0), 0);
  return {
    sum,
    expected: served,
    deficit: served - sum,
    missingCookies: cookies.filter((c) => !c).length,
  };
}

/**
 * The `alternate` workload: two populations of `sessions` sessions each, made by `visit`'s warm-up
 * on `paths.a` and `paths.b`; then one timed run of `duration` s on `/visit` in which the whole
 * load switches population every `phase` s (a, b, b, a, …). Every connection keeps its own
 * sessions of each population, so no two requests of one session are ever in flight together.
 * A response counts for the population of its request. The two sides share the process, the JIT
 * and, phase by phase, whatever else the machine does, so what differs is only their sessions.
 */
async function alternate() {
  const { paths, phase = 0.2 } = config;
  const populations = {};
  for (const side of ['a', 'b']) {
    const warm = await pool(sessions, connections, () => get(paths[side]));
    populations[side] = warm.map(sessionCookie);
  }
  // Phases in the order a b b a, a b b a …: a slow drift of the machine over the run (the JIT,
  // the heap) then favours neither side, as it would if b always came second.
  const ORDER = ['a', 'b', 'b', 'a'];
  let current = 'a';
  let phaseIndex = 0;
  /** Responses per phase and population. */
  const byPhase = [];
  let counting = false;
  let clients = 0;
  const setupClient = (client) => {
    const c = clients++ % connections;
    const mine = {
      a: populations.a.filter((_, i) => i % connections === c),
      b: populations.b.filter((_, i) => i % connections === c),
    };
    const turns = { a: 0, b: 0 };
    let sent = current;
    const send = () => {
      sent = current;
      const list = mine[sent];
      client.setHeaders({ cookie: list[turns[sent]++ % list.length] });
    };
    send();
    client.on('response', () => {
      if (counting) {
        byPhase[phaseIndex] ??= { a: 0, b: 0 };
        byPhase[phaseIndex][sent]++;
      }
      send();
    });
  };
  const switching = (run) => {
    phaseIndex = 0;
    current = ORDER[0];
    const timer = setInterval(() => {
      phaseIndex++;
      current = ORDER[phaseIndex % ORDER.length];
    }, phase * 1000);
    return run.finally(() => clearInterval(timer));
  };
  // The warm-up alternates too, untimed: the JIT sees both sides before anything counts.
  if (warmup > 0) await switching(cannon({ path: '/visit', setupClient, duration: warmup * 2 }));
  clients = 0;
  const before = await settledStats();
  counting = true;
  const result = await switching(cannon({ path: '/visit', setupClient }));
  counting = false;
  const after = await settledStats();
  // Whole groups of a b b a only, not the first (connections still opening) nor a last one cut
  // short. A response counts in the phase it arrives in, for the population of its request.
  const quads = [];
  for (let q = 1; (q + 1) * 4 <= byPhase.length - 1; q++) {
    const group = byPhase.slice(q * 4, q * 4 + 4);
    quads.push({
      a: group.reduce((n, g) => n + (g?.a ?? 0), 0),
      b: group.reduce((n, g) => n + (g?.b ?? 0), 0),
    });
  }
  const total = (side) => quads.reduce((n, g) => n + g[side], 0);
  const half = quads.length * 2 * phase;
  // The ratio per group of a b b a (0.8 s at the default phase), for its spread within the run.
  const groupRatios = quads.filter((g) => g.a > 0).map((g) => g.b / g.a);
  const out = {
    rpsA: total('a') / half,
    rpsB: total('b') / half,
    ratio: total('a') > 0 ? total('b') / total('a') : undefined,
    groups: quads.length,
    groupRatios,
    errors: result.errors,
    non2xx: result.non2xx,
    served: after.counters.visit - before.counters.visit,
    cpuPerReq:
      (after.cpuMicros - before.cpuMicros) / (after.counters.visit - before.counters.visit),
    load: os.loadavg()[0],
  };
  // Both populations' visits against every completed visit.
  const cookies = [...populations.a, ...populations.b];
  Object.assign(out, await visitsLanded(cookies, after.counters.visit));
  if (after.unsettled) out.unsettled = true;
  return out;
}

/** The `new` and `stale` workloads: every timed request creates a session. */
async function newSessions(setupClient) {
  await pool(sessions, connections, () => get('/new'));
  await warmUp({ path: '/new', setupClient });
  const before = await settledStats();
  const result = await cannon({ path: '/new', setupClient });
  const after = await settledStats();
  const served = after.counters.new - before.counters.new;
  return {
    ...summarize(result),
    served,
    cpuPerReq: (after.cpuMicros - before.cpuMicros) / served,
    rss: after.rss,
    maxRss: after.maxRss,
    load: os.loadavg()[0],
  };
}

const newVisitor = () => newSessions(undefined);

const staleCookie = () =>
  newSessions((client) => {
    client.setHeaders({ cookie: signedCookie(randomId()) });
    client.on('response', () => client.setHeaders({ cookie: signedCookie(randomId()) }));
  });

async function concurrentKeys() {
  const first = await get('/visit');
  const cookie = sessionCookie(first);
  if (!cookie) return { lost: null, keys };
  const started = performance.now();
  const responses = await pool(keys, connections, (i) => get(`/key?i=${i}`, { cookie }));
  const seconds = (performance.now() - started) / 1000;
  const ok = responses.filter((r) => r.status === 200).length;
  const after = await settledStats();
  const count = JSON.parse((await get(`/__keys?n=${keys}`, { cookie })).body).count;
  return {
    keys,
    ok,
    failed: keys - ok,
    present: count,
    lost: ok - count,
    rps: keys / seconds,
    rss: after.rss,
    maxRss: after.maxRss,
  };
}

const run = { visit, alternate, new: newVisitor, stale: staleCookie, keys: concurrentKeys }[
  workload
];
if (!run) throw new Error(`unknown workload ${workload}`);
const out = await run();
// Requests the server handled in all (warm-up, timed run, reads, stats calls).
out.requestsTotal = (await stats()).counters.requests;
agent.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
