/**
 * RedisStore: sessions shared by many processes and machines.
 *
 * One hash per session at `prefix + id`: `c` = createdAt, `e` = expiresAt (ms since the epoch),
 * `d:<key>` = JSON of one session key (codec.ts), so a `set` writes one field and concurrent
 * writes of different keys never clobber each other. Expiry is `PEXPIREAT e`.
 * `create`/`update`/`touch` are Lua scripts (scripts.ts); every command touches one key, so
 * Redis Cluster works as is.
 * `move` is move.ts; the user index is user-index.ts. What stays here (a little over ~300 lines)
 * is the one class whose methods share the client, the prefix and the scripts' loading.
 */

import { reportBackgroundError, StoreClosedError } from '../../errors.js';
import { assertValidSessionId, isValidSessionId } from '../../id.js';
import type {
  BackgroundErrorHandler,
  CreateForUserResult,
  MoveResult,
  SessionChanges,
  SessionMove,
  SessionRecord,
  SessionStore,
  UserIndexStore,
  UserSessionLimit,
} from '../../types.js';
import {
  createCommander,
  isReplyError,
  type RedisCommander,
  toStoreError,
  withTimeout,
} from './client.js';
import {
  asText,
  checkTime,
  decodeSession,
  escapeGlob,
  fieldName,
  parseScanReply,
  pushFields,
} from './codec.js';
import { type MoveContext, moveSession } from './move.js';
import { type RedisStoreOptions, resolveRedisStoreOptions } from './options.js';
import { CREATE, DESTROY, type RedisScript, runScript, TOUCH, UPDATE } from './scripts.js';
import { type OwnedClient, openUrlClient } from './url.js';
import { RedisUserIndex } from './user-index.js';

export type {
  IoRedisLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
} from './client.js';
export type { RedisStoreOptions } from './options.js';

/** A Redis-backed {@link SessionStore}. */
export class RedisStore implements SessionStore, UserIndexStore {
  readonly prefix: string;
  readonly commandTimeout: number;
  readonly scanCount: number;
  readonly ttl: number;
  #cmd: RedisCommander | undefined;
  #url: string | undefined;
  #owned: Promise<OwnedClient> | undefined;
  #onError: BackgroundErrorHandler | undefined;
  #pattern: string;
  #unlink = true;
  #closed = false;
  readonly #users: RedisUserIndex;
  readonly #moveContext: MoveContext = {
    clamp: (expiresAt, now) => this.#clamp(expiresAt, now),
    script: (s, id, args) => this.#script(s, id, args),
    followed: (id, expiresAt, reply) => this.#followed(id, expiresAt, reply),
  };

  constructor(options: RedisStoreOptions) {
    const resolved = resolveRedisStoreOptions(options);
    this.prefix = resolved.prefix;
    this.commandTimeout = resolved.commandTimeout;
    this.scanCount = resolved.scanCount;
    this.ttl = resolved.ttl;
    this.#onError = resolved.onError;
    if ('client' in resolved) {
      this.#cmd = createCommander(resolved.client, resolved.flavour, this.commandTimeout);
    } else {
      this.#url = resolved.url;
    }
    this.#pattern = `${escapeGlob(this.prefix)}*`;
    this.#users = new RedisUserIndex({
      prefix: this.prefix,
      commander: async () => this.#cmd ?? (await this.#open()),
      clamp: (expiresAt, now) => this.#clamp(expiresAt, now),
      lifetimeMs: Math.ceil(this.ttl * 1000),
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    const cmd = this.#cmd ?? (await this.#open());
    const key = this.prefix + id;
    let reply: unknown;
    try {
      reply = await cmd.send(key, ['HGETALL', key]);
    } catch (error) {
      if (isReplyError(error, 'WRONGTYPE')) return this.#unreadable('is not a hash');
      throw toStoreError(error);
    }
    const now = Date.now();
    const record = this.#parse(reply, now);
    if (record !== undefined && this.#users.vouches(cmd, reply, record, now)) {
      record.userCurrent = true;
    }
    return record;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const createdAt = checkTime(record?.createdAt, 'createdAt');
    const expiresAt = this.#clamp(checkTime(record.expiresAt, 'expiresAt'), now);
    const args = [String(now), String(createdAt), String(expiresAt)];
    pushFields(args, record.data);
    return (await this.#script(CREATE, id, args)) === 1;
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const e = this.#clamp(checkTime(expiresAt, 'expiresAt'), now);
    const args = [String(now), String(e), '0'];
    args[2] = String(pushFields(args, changes?.set));
    for (const key of changes?.unset ?? []) args.push(fieldName(key));
    return this.#followed(id, e, await this.#script(UPDATE, id, args));
  }

  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    assertValidSessionId(id);
    const now = Date.now();
    const e = this.#clamp(checkTime(expiresAt, 'expiresAt'), now);
    const args = [String(now), String(e)];
    if (typeof minExtension === 'number' && Number.isFinite(minExtension)) {
      args.push(String(minExtension));
    }
    return this.#followed(id, e, await this.#script(TOUCH, id, args));
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    // A forward left by `move` names the session to destroy too (a logout racing a regenerate).
    const movedTo = await this.#script(DESTROY, id, []);
    const next = movedTo === 0 || movedTo == null ? undefined : asText(movedTo);
    if (next !== undefined && isValidSessionId(next)) await this.destroy(next);
  }

  /** See `moveSession`: three one-key steps, so it works on Redis Cluster. */
  move(oldId: string, newId: string, move: SessionMove): Promise<MoveResult> {
    return moveSession(this.#moveContext, oldId, newId, move);
  }

  async *all(): AsyncGenerator<[string, SessionRecord]> {
    const cmd = this.#cmd ?? (await this.#open());
    for await (const keys of this.#scan(cmd)) {
      const replies = await Promise.all(
        keys.map((key) =>
          cmd.send(key, ['HGETALL', key]).catch((error: unknown) => {
            if (isReplyError(error, 'WRONGTYPE')) return this.#unreadable('is not a hash');
            throw toStoreError(error);
          }),
        ),
      );
      const now = Date.now();
      for (const [i, key] of keys.entries()) {
        const record = replies[i] === undefined ? undefined : this.#parse(replies[i], now);
        if (record) yield [key.slice(this.prefix.length), record];
      }
    }
  }

  async length(): Promise<number> {
    const cmd = this.#cmd ?? (await this.#open());
    let count = 0;
    for await (const keys of this.#scan(cmd)) count += keys.length;
    return count;
  }

  async clear(): Promise<void> {
    const cmd = this.#cmd ?? (await this.#open());
    // One key per command, so every command lands on one cluster slot; the batch is pipelined.
    for await (const keys of this.#scan(cmd)) {
      await Promise.all(keys.map((key) => this.#delete(cmd, key)));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cmd = undefined;
    const owned = this.#owned;
    this.#owned = undefined;
    if (owned) await (await owned.catch(() => undefined))?.close();
  }

  /** Session keys of this store, one `SCAN` batch at a time, on every master. */
  async *#scan(cmd: RedisCommander): AsyncGenerator<string[]> {
    let masters: Awaited<ReturnType<RedisCommander['masters']>>;
    try {
      masters = await cmd.masters();
    } catch (error) {
      throw toStoreError(error);
    }
    const count = String(this.scanCount);
    for (const scan of masters) {
      let cursor = '0';
      do {
        let reply: unknown;
        try {
          reply = await scan(['SCAN', cursor, 'MATCH', this.#pattern, 'COUNT', count]);
        } catch (error) {
          throw toStoreError(error);
        }
        const [next, keys] = parseScanReply(reply);
        cursor = next;
        const ours = keys.filter((key) => isValidSessionId(key.slice(this.prefix.length)));
        if (ours.length > 0) yield ours;
      } while (cursor !== '0');
    }
  }

  createForUser(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    return this.#users.create(id, record, userId, limit);
  }

  listUser(userId: string): Promise<[string, SessionRecord][]> {
    return this.#users.list(userId);
  }

  destroyUser(userId: string, exceptId?: string): Promise<number> {
    return this.#users.destroy(userId, exceptId);
  }

  userEpoch(userId: string): Promise<number> {
    return this.#users.epoch(userId);
  }

  raiseUserEpoch(userId: string, atLeast: number): Promise<number> {
    return this.#users.raiseEpoch(userId, atLeast);
  }

  /**
   * The result of an UPDATE/TOUCH script: on Redis Cluster a bound session's index is in another
   * slot, the script hands back its key, and the index follows with a call of its own.
   */
  async #followed(id: string, expiresAt: number, reply: unknown): Promise<boolean> {
    if (typeof reply !== 'string') return reply === 1;
    await this.#users.follow(reply, this.prefix + id, expiresAt);
    return true;
  }

  async #script(s: RedisScript, id: string, args: string[]): Promise<unknown> {
    const cmd = this.#cmd ?? (await this.#open());
    try {
      return await runScript(cmd, s, this.prefix + id, args);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async #delete(cmd: RedisCommander, key: string): Promise<void> {
    // Read once: deletes of one batch run concurrently, and those sent before the first refusal
    // came back must fall back too.
    const command = this.#unlink ? 'UNLINK' : 'DEL';
    try {
      await cmd.send(key, [command, key]);
    } catch (error) {
      // Redis < 4 has no UNLINK: fall back to DEL once and for all.
      if (
        command === 'DEL' ||
        !isReplyError(error, 'ERR') ||
        !/unknown command/i.test(error.message)
      ) {
        throw toStoreError(error);
      }
      this.#unlink = false;
      await this.#delete(cmd, key);
    }
  }

  /** The commander when the store was given a `url`: opens the owned client on first use. */
  async #open(): Promise<RedisCommander> {
    if (this.#closed) throw new StoreClosedError();
    if (this.#url === undefined) throw new StoreClosedError();
    if (!this.#owned) {
      const owned = openUrlClient(this.#url, this.commandTimeout, this.#onError);
      this.#owned = owned;
      owned.catch(() => {
        if (this.#owned === owned) this.#owned = undefined;
      });
    }
    const owned = await this.#owned;
    await withTimeout(owned.connected, this.commandTimeout);
    if (this.#closed) throw new StoreClosedError();
    this.#cmd ??= createCommander(owned.client, 'node-redis', this.commandTimeout);
    return this.#cmd;
  }

  #clamp(expiresAt: number, now: number): number {
    return Math.min(Math.floor(expiresAt), now + Math.floor(this.ttl * 1000));
  }

  /** HGETALL reply → live record, or `undefined` (reporting unreadable content to `onError`). */
  #parse(reply: unknown, now: number): SessionRecord | undefined {
    const decoded = decodeSession(reply, now);
    return typeof decoded === 'string' ? this.#unreadable(decoded) : decoded;
  }

  #unreadable(what: string): undefined {
    reportBackgroundError(
      this.#onError,
      new Error(`RedisStore: a key under the prefix ${what}; read as no session`),
    );
    return undefined;
  }
}
