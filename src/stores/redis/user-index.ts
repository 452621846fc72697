/**
 * RedisStore's user index: per user a sorted set `prefix + 'u:{h}'` (h = SHA-256 of the user
 * id, so keys reveal no user id) whose members are the user's session keys, scored by their
 * expiry; and the user's epoch at `prefix + 'ue:{h}'`. A bound session's hash holds `u` = its
 * index key, so the session scripts keep the score equal to the session's expiry on every
 * renewal (see `FOLLOW_INDEX`), and the index key's own expiry is its highest score: an index
 * never outlives its sessions and never needs keyspace events or a sweep. The session hash is the
 * truth: members are verified against it (`u` must name this index) and pruned lazily.
 *
 * On one Redis every step that changes a session and its index is one script. On Redis Cluster
 * the session and the index live in different slots, so those steps are separate calls (the
 * index follows the session); the epoch keeps revocation correct whatever the index misses.
 */
import { createHash } from 'node:crypto';
import { setBounded } from '../../bounded-map.js';
import { boundEpochOf, boundUserOf } from '../../data.js';
import { assertValidSessionId } from '../../id.js';
import type { CreateForUserResult, SessionRecord, UserSessionLimit } from '../../types.js';
import { isReplyError, type RedisCommander, toStoreError } from './client.js';
import { checkTime, decodeSession, epochValue, indexFieldOf, pushFields } from './codec.js';
import { EvictionPolicy } from './eviction-policy.js';
import { CREATE, evalKeys, type RedisScript, runScript } from './scripts.js';
import {
  CREATE_FOR_USER,
  DESTROY_OWNED,
  INDEX_ADD,
  INDEX_MOVE,
  RAISE_EPOCH,
} from './user-index-scripts.js';

/** What the index needs from its store. */
export interface RedisIndexContext {
  readonly prefix: string;
  /** The commander, opening the owned client if needed. */
  commander(): Promise<RedisCommander>;
  /** `expiresAt` clamped to the store's `ttl`. */
  clamp(expiresAt: number, now: number): number;
  /** Longest a session can live after its last renewal, in ms (the store's `ttl`). */
  readonly lifetimeMs: number;
}

/** Margin an epoch outlives the longest session by: requests in flight at the raise. */
const EPOCH_MARGIN_MS = 60_000;

/** Users whose key hash is remembered (a load of a bound session needs it; SHA-256 costs ~1 µs). */
const HASHES_KEPT = 4096;

export class RedisUserIndex {
  readonly #ctx: RedisIndexContext;
  /** Set once Redis answered CROSSSLOT: the session and index steps go as separate calls. */
  #split = false;
  readonly #hashes = new Map<string, string>();
  readonly #policy = new EvictionPolicy();

  constructor(context: RedisIndexContext) {
    this.#ctx = context;
  }

  indexKey(userId: string): string {
    return `${this.#ctx.prefix}u:{${this.#hashOf(userId)}}`;
  }

  epochKey(userId: string): string {
    return `${this.#ctx.prefix}ue:{${this.#hashOf(userId)}}`;
  }

  /**
   * Whether a bound session just loaded (`reply`, its `HGETALL`, decoded as `record`) is known
   * not to be behind its user's epoch, so that its load needs no epoch read. On one Redis that
   * never evicts keys, yes when the hash names its user's index (`u`): it was created by
   * `CREATE_FOR_USER`, which checked the epoch, and scripts keep it in that index until it ends,
   * so a revocation destroys it. No on Redis Cluster (the index follows in separate calls), under
   * an evicting policy (see eviction-policy.ts), and for a bound session stored by plain `create`
   * (a copied or imported one, in no index): the manager then reads the epoch.
   */
  vouches(cmd: RedisCommander, reply: unknown, record: SessionRecord, now: number): boolean {
    const user = boundUserOf(record.data);
    if (user === undefined || cmd.cluster || !this.#policy.neverEvicts(cmd, now)) return false;
    return indexFieldOf(reply) === this.indexKey(user);
  }

  async create(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    assertValidSessionId(id);
    const ctx = this.#ctx;
    const cmd = await ctx.commander();
    const now = Date.now();
    const createdAt = checkTime(record?.createdAt, 'createdAt');
    const expiresAt = ctx.clamp(checkTime(record.expiresAt, 'expiresAt'), now);
    const key = ctx.prefix + id;
    const idx = this.indexKey(userId);
    const fields: string[] = ['u', idx];
    pushFields(fields, record.data);
    if (!this.#split) {
      const stamp = boundEpochOf(record.data);
      const args = [
        String(now),
        String(createdAt),
        String(expiresAt),
        String(limit?.max ?? 0),
        limit?.whenFull ?? 'evict-oldest',
        stamp === undefined ? '' : String(stamp),
        ...fields,
      ];
      const keys = [key, idx, this.epochKey(userId)];
      try {
        const reply = (await evalKeys(cmd, CREATE_FOR_USER, keys, args)) as number[];
        const status = Number(reply[0]);
        if (status === 0) return { status: 'collision' };
        if (status === 2) return { status: 'full' };
        if (status === 3) return { status: 'revoked' };
        return { status: 'created', evicted: Number(reply[1] ?? 0) };
      } catch (error) {
        if (!isReplyError(error, 'CROSSSLOT')) throw toStoreError(error);
        this.#split = true;
      }
    }
    return this.#createSplit(cmd, key, idx, now, createdAt, expiresAt, fields, limit);
  }

  /** createForUser on Redis Cluster: the cap on the index, then the session, then the member. */
  async #createSplit(
    cmd: RedisCommander,
    key: string,
    idx: string,
    now: number,
    createdAt: number,
    expiresAt: number,
    fields: string[],
    limit: UserSessionLimit | undefined,
  ): Promise<CreateForUserResult> {
    let evicted = 0;
    if (limit) {
      const members = await this.#liveMembers(cmd, idx, now);
      if (members.length >= limit.max) {
        if (limit.whenFull === 'reject') return { status: 'full' };
        const victims = members.slice(0, members.length - limit.max + 1);
        for (const member of victims) evicted += await this.#destroyOwned(cmd, member, idx);
        await send(cmd, idx, ['ZREM', idx, ...victims]);
      }
    }
    const created = await runOne(cmd, CREATE, key, [
      String(now),
      String(createdAt),
      String(expiresAt),
      ...fields,
    ]);
    if (Number(created) !== 1) return { status: 'collision' };
    await runOne(cmd, INDEX_ADD, idx, [String(now), String(expiresAt), key]);
    return { status: 'created', evicted };
  }

  /** Follows a renewal that the session script could not reach (Redis Cluster). */
  async follow(index: string, sessionKey: string, expiresAt: number): Promise<void> {
    const cmd = await this.#ctx.commander();
    await runOne(cmd, INDEX_MOVE, index, [String(Date.now()), String(expiresAt), sessionKey]);
  }

  async list(userId: string): Promise<[string, SessionRecord][]> {
    const cmd = await this.#ctx.commander();
    const idx = this.indexKey(userId);
    const now = Date.now();
    const members = await this.#candidates(cmd, idx, now);
    const replies = await Promise.all(
      members.map((m) => send(cmd, m, ['HGETALL', m]).catch(() => undefined)),
    );
    const live: [string, SessionRecord][] = [];
    const stale: string[] = [];
    for (const [i, member] of members.entries()) {
      const decoded = replies[i] === undefined ? undefined : decodeSession(replies[i], now);
      if (typeof decoded === 'object' && boundUserOf(decoded.data) === userId) {
        live.push([member.slice(this.#ctx.prefix.length), decoded]);
      } else {
        stale.push(member);
      }
    }
    if (stale.length > 0) await send(cmd, idx, ['ZREM', idx, ...stale]);
    return live;
  }

  async destroy(userId: string, exceptId?: string): Promise<number> {
    const cmd = await this.#ctx.commander();
    const idx = this.indexKey(userId);
    const except = exceptId === undefined ? undefined : this.#ctx.prefix + exceptId;
    const members = (await this.#candidates(cmd, idx, Date.now())).filter((m) => m !== except);
    const counts = await Promise.all(members.map((m) => this.#destroyOwned(cmd, m, idx)));
    if (members.length > 0) await send(cmd, idx, ['ZREM', idx, ...members]);
    return counts.reduce((a, b) => a + b, 0);
  }

  async epoch(userId: string): Promise<number> {
    const key = this.epochKey(userId);
    return epochValue(await send(await this.#ctx.commander(), key, ['GET', key]));
  }

  async raiseEpoch(userId: string, atLeast: number): Promise<number> {
    const cmd = await this.#ctx.commander();
    const lifetime = this.#ctx.lifetimeMs + EPOCH_MARGIN_MS;
    const reply = await runOne(cmd, RAISE_EPOCH, this.epochKey(userId), [
      String(Math.floor(atLeast)),
      String(lifetime),
    ]);
    return Number(String(reply));
  }

  /** Members whose score is not past (the expired ones are removed first). */
  async #candidates(cmd: RedisCommander, idx: string, now: number): Promise<string[]> {
    await send(cmd, idx, ['ZREMRANGEBYSCORE', idx, '-inf', String(now)]);
    const reply = await send(cmd, idx, ['ZRANGE', idx, '0', '-1']);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  /** Members verified one call each (Redis Cluster), soonest expiry first; stale ones removed. */
  async #liveMembers(cmd: RedisCommander, idx: string, now: number): Promise<string[]> {
    const members = await this.#candidates(cmd, idx, now);
    const owners = await Promise.all(members.map((m) => send(cmd, m, ['HGET', m, 'u'])));
    const stale = members.filter((_, i) => String(owners[i]) !== idx);
    if (stale.length > 0) await send(cmd, idx, ['ZREM', idx, ...stale]);
    return members.filter((_, i) => String(owners[i]) === idx);
  }

  async #destroyOwned(cmd: RedisCommander, member: string, idx: string): Promise<number> {
    return Number(await runOne(cmd, DESTROY_OWNED, member, [idx]));
  }

  #hashOf(userId: string): string {
    let hash = this.#hashes.get(userId);
    if (hash === undefined) {
      hash = createHash('sha256').update(userId).digest('base64url');
      setBounded(this.#hashes, userId, hash, HASHES_KEPT);
    }
    return hash;
  }
}

async function send(cmd: RedisCommander, key: string, args: string[]): Promise<unknown> {
  try {
    return await cmd.send(key, args);
  } catch (error) {
    throw toStoreError(error);
  }
}

async function runOne(
  cmd: RedisCommander,
  s: RedisScript,
  key: string,
  args: string[],
): Promise<unknown> {
  try {
    return await runScript(cmd, s, key, args);
  } catch (error) {
    throw toStoreError(error);
  }
}
