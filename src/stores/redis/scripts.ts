/**
 * The Lua scripts behind RedisStore's writes. Each touches one key (KEYS[1]) — plus, for a session
 * bound to a user, that user's index when it is within reach (`FOLLOW_INDEX`) — so they run on
 * Redis Cluster unchanged, and each is atomic: the existence check and the write can't be
 * separated by a concurrent `destroy` (connect-redis#328: a logout undone by a request in flight).
 *
 * Layout of a session hash: `c` = createdAt (ms), `e` = expiresAt (ms), `d:<key>` = JSON value;
 * a bound session also has `u` = its user index key (user-index.ts).
 * A hash is *live* when `c` and `e` are numbers and `e` > the caller's clock (ARGV[1]).
 *
 * Scripts are sent with EVALSHA and, on `NOSCRIPT` (first use, or Redis restarted with an empty
 * script cache), with EVAL, which also caches them: see `runScript`.
 */
import { createHash } from 'node:crypto';
import { EXPRESS_KEY } from '../../data.js';
import { isReplyError, type RedisCommander } from './client.js';
import { BINDING_FIELD } from './codec.js';

/**
 * Fields a move never carries: the user binding (`BINDING_FIELD`: the new session has its own)
 * and the express-session adapter's cookie (not application data).
 */
const EXPRESS_FIELD = `d:${EXPRESS_KEY}`;

/** A script and its SHA1, as EVALSHA wants it. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * How far ahead of the session's expiry its score in the user index is set, in ms. A renewal
 * moves the score only once the expiry has passed it, so the many renewals of a busy session
 * within a second cost one `ZSCORE` instead of a `ZADD`, a `PTTL` and often a `PEXPIREAT`; the
 * index may list a session up to this much past its end (members are verified on every read
 * anyway), and `'evict-oldest'` orders a user's sessions to within it.
 */
export const INDEX_LEAD_MS = 1000;

/**
 * Ends TOUCH and UPDATE (after they wrote `e` = ARGV[2]): moves the session's score in its
 * index to `e` + INDEX_LEAD_MS when `e` has passed it, and the index's expiry up to it. Returns
 * 1, or the index key when that key is out of this script's reach (another cluster slot), for
 * the caller to follow with a call of its own.
 */
const FOLLOW_INDEX = `
local u = redis.call('HGET', key, 'u')
if u then
  local e = tonumber(ARGV[2])
  local held = redis.pcall('ZSCORE', u, key)
  if type(held) == 'table' and held.err then return u end
  if held and tonumber(held) >= e then return 1 end
  local score = e + ${INDEX_LEAD_MS}
  redis.call('ZADD', u, 'XX', score, key)
  if redis.call('PTTL', u) < score - tonumber(ARGV[1]) then
    redis.call('PEXPIREAT', u, score)
  end
end
return 1
`;

/** Leaves in `live` whether KEYS[1] holds a live session; a key of another type is never live. */
const LIVE_CHECK = `
local key = KEYS[1]
local cur = redis.pcall('HMGET', key, 'c', 'e')
local live = false
if not cur.err then
  local e = tonumber(cur[2])
  live = tonumber(cur[1]) ~= nil and e ~= nil and e > tonumber(ARGV[1])
end
`;

/**
 * create: ARGV = now, createdAt, expiresAt, field1, value1, … → 1 created, 0 collision.
 * A dead or malformed hash under the key is replaced; a key of another type is left alone and
 * reported as a collision (the manager then picks another id).
 */
export const CREATE = script(`${LIVE_CHECK}
if live or cur.err then return 0 end
-- Only when something is there: under maxmemory + noeviction, Redis refuses a script's first
-- write with OOM but lets later writes through, so an unconditional DEL would bypass the limit.
if redis.call('EXISTS', key) == 1 then redis.call('DEL', key) end
redis.call('HSET', key, 'c', ARGV[2], 'e', ARGV[3])
for i = 4, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', key, ARGV[3])
return 1
`);

/**
 * update: ARGV = now, expiresAt, nset, set field1, value1, …, unset field1, … → 1 written,
 * 0 missing (nothing written: a destroyed session is never brought back), or the user index key
 * to follow (see `FOLLOW_INDEX`).
 */
export const UPDATE = script(`${LIVE_CHECK}
if not live then return 0 end
local last = 3 + 2 * tonumber(ARGV[3])
for i = 4, last, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
for i = last + 1, #ARGV do redis.call('HDEL', key, ARGV[i]) end
redis.call('HSET', key, 'e', ARGV[2])
redis.call('PEXPIREAT', key, ARGV[2])
${FOLLOW_INDEX}`);

/**
 * touch: ARGV = now, expiresAt[, minExtension] → 1 live (moved, or already within
 * `minExtension` of expiresAt: another process renewed it), 0 missing.
 */
export const TOUCH = script(`${LIVE_CHECK}
if not live then return 0 end
if ARGV[3] and tonumber(ARGV[2]) - tonumber(cur[2]) < tonumber(ARGV[3]) then return 1 end
redis.call('HSET', key, 'e', ARGV[2])
redis.call('PEXPIREAT', key, ARGV[2])
${FOLLOW_INDEX}`);

/**
 * seal (the old session of a move): ARGV = now, forwardUntil, newId, keepAll ('1'/'0'),
 * field1, … → `{'moved', field, value, …}` with the kept fields, or 0 when the session is not
 * live (nothing changed). In the same step the hash becomes a forward — `c` = `e` = 0, so every
 * reader and writer sees no session, and `f` = newId until forwardUntil — which `destroy`
 * follows to the new session.
 */
export const SEAL = script(`${LIVE_CHECK}
if not live then return 0 end
local out = {'moved'}
if ARGV[4] == '1' then
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local kind = string.sub(all[i], 1, 2)
    if (kind == 'd:' or kind == 'j:') and all[i] ~= '${BINDING_FIELD}' and all[i] ~= '${EXPRESS_FIELD}' then
      out[#out + 1] = all[i]
      out[#out + 1] = all[i + 1]
    end
  end
else
  for i = 5, #ARGV do
    local value = redis.call('HGET', key, ARGV[i])
    if value then
      out[#out + 1] = ARGV[i]
      out[#out + 1] = value
    end
  end
end
redis.call('DEL', key)
redis.call('HSET', key, 'c', '0', 'e', '0', 'f', ARGV[3])
redis.call('PEXPIREAT', key, ARGV[2])
return out
`);

/** destroy: no ARGV → the id a forward names (to destroy too), or 0. */
export const DESTROY = script(`
local forward = redis.pcall('HGET', KEYS[1], 'f')
redis.call('DEL', KEYS[1])
if type(forward) == 'string' then return forward end
return 0
`);

/**
 * Runs `s` on `key`: EVALSHA first (one round trip on the hot path), EVAL when Redis answers
 * `NOSCRIPT`. No state is kept about what the server has cached, so a restarted or failed-over
 * Redis costs one extra round trip, never an error.
 */
export function runScript(
  commander: RedisCommander,
  s: RedisScript,
  key: string,
  args: string[],
): Promise<unknown> {
  return evalKeys(commander, s, [key], args);
}

/** Like {@link runScript}, with several keys (routed by the first). Reply errors pass as they are. */
export async function evalKeys(
  commander: RedisCommander,
  s: RedisScript,
  keys: readonly string[],
  args: string[],
): Promise<unknown> {
  const n = String(keys.length);
  try {
    return await commander.send(keys[0]!, ['EVALSHA', s.sha, n, ...keys, ...args]);
  } catch (error) {
    if (!isReplyError(error, 'NOSCRIPT')) throw error;
    return commander.send(keys[0]!, ['EVAL', s.source, n, ...keys, ...args]);
  }
}
