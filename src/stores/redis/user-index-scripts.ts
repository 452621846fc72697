/**
 * The Lua scripts of RedisStore's user index (see user-index.ts for the key layout). On one Redis
 * a session and its index change in one script; each script here touches the keys it is given.
 */
import { script } from './scripts.js';

/** The index's expiry at its highest score (nothing when it is empty: then it is gone). */
const EXPIRE_AT_TOP = `
local top = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
if top[2] then redis.call('PEXPIREAT', idx, top[2]) end
`;

/**
 * The user's live session keys, soonest expiry first, into `members`; every stale member
 * (expired, destroyed, or whose hash names another index) is removed on the way.
 */
const LIVE_MEMBERS = `
redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[1])
local members = {}
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if redis.call('HGET', m, 'u') == idx then members[#members + 1] = m
  else redis.call('ZREM', idx, m) end
end
`;

/**
 * createForUser on one Redis: KEYS = session, index, epoch; ARGV = now, createdAt, expiresAt, max
 * (0: none), whenFull, the binding's epoch ('' for none), field1, value1, … → {1, evicted}
 * created, {0} collision, {2} full, {3} revoked (the user's epoch passed the binding: a login
 * that raced a revocation stores nothing, so no session behind its epoch outlives one).
 */
export const CREATE_FOR_USER = script(`
local key, idx = KEYS[1], KEYS[2]
if ARGV[6] ~= '' and (tonumber(redis.call('GET', KEYS[3])) or 0) > tonumber(ARGV[6]) then
  return {3}
end
local cur = redis.pcall('HMGET', key, 'c', 'e')
if cur.err then return {0} end
local e = tonumber(cur[2])
if tonumber(cur[1]) ~= nil and e ~= nil and e > tonumber(ARGV[1]) then return {0} end
local evicted = 0
local max = tonumber(ARGV[4])
if max > 0 then
  ${LIVE_MEMBERS}
  if #members >= max then
    if ARGV[5] == 'reject' then return {2} end
    for i = 1, #members - max + 1 do
      redis.call('DEL', members[i])
      redis.call('ZREM', idx, members[i])
      evicted = evicted + 1
    end
  end
else
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[1])
end
if redis.call('EXISTS', key) == 1 then redis.call('DEL', key) end
redis.call('HSET', key, 'c', ARGV[2], 'e', ARGV[3])
for i = 7, #ARGV, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', key, ARGV[3])
redis.call('ZADD', idx, ARGV[3], key)
${EXPIRE_AT_TOP}
return {1, evicted}
`);

/** Adds a member on Redis Cluster (the session was created by its own call): KEYS = index; ARGV = now, score, member. */
export const INDEX_ADD = script(`
local idx = KEYS[1]
redis.call('ZREMRANGEBYSCORE', idx, '-inf', ARGV[1])
redis.call('ZADD', idx, ARGV[2], ARGV[3])
${EXPIRE_AT_TOP}
return 1
`);

/** Follows a renewal on Redis Cluster: KEYS = index; ARGV = now, score, member. */
export const INDEX_MOVE = script(`
local idx = KEYS[1]
if redis.call('ZADD', idx, 'XX', ARGV[2], ARGV[3]) == 0 and not redis.call('ZSCORE', idx, ARGV[3]) then
  return 0
end
if redis.call('PTTL', idx) < tonumber(ARGV[2]) - tonumber(ARGV[1]) then
  redis.call('PEXPIREAT', idx, ARGV[2])
end
return 1
`);

/** Deletes a session only if it belongs to the index: KEYS = session; ARGV = index → 1 deleted. */
export const DESTROY_OWNED = script(`
if redis.call('HGET', KEYS[1], 'u') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`);

/** Raises an epoch: KEYS = epoch key; ARGV = at least, lifetime ms → the new epoch. */
export const RAISE_EPOCH = script(`
local n = math.max(tonumber(redis.call('GET', KEYS[1])) or 0, tonumber(ARGV[1]))
local text = string.format('%.0f', n)
redis.call('SET', KEYS[1], text, 'PX', ARGV[2])
return text
`);
