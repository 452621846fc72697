/**
 * RedisStore: sessions shared by many processes and machines.
 *
 * One hash per session at `prefix + id`: `c` = createdAt, `e` = expiresAt (ms since the epoch),
 * `d:<key>` = JSON of one session key (redis-codec.ts), so a `set` writes one field and
 * concurrent writes of different keys never clobber each other. Expiry is `PEXPIREAT e`. `create`/`update`/`touch` are
 * Lua scripts (redis-scripts.ts); every command touches one key, so Redis Cluster works as is.
 */
import { InvalidOptionError, reportBackgroundError, StoreClosedError } from '../../errors.js';
import { assertValidSessionId, isValidSessionId } from '../../id.js';
import type {
  BackgroundErrorHandler,
  CreateForUserResult,
  SessionChanges,
  SessionRecord,
  SessionStore,
  UserIndexStore,
  UserSessionLimit,
} from '../../types.js';
import {
  createCommander,
  detectFlavour,
  isReplyError,
  type RedisClientLike,
  type RedisCommander,
  toStoreError,
  withTimeout,
} from './client.js';
import {
  checkTime,
  decodeSession,
  escapeGlob,
  fieldName,
  parseScanReply,
  pushFields,
} from './codec.js';
import { CREATE, runScript, TOUCH, UPDATE } from './scripts.js';
import { type OwnedClient, openUrlClient } from './url.js';
import { RedisUserIndex } from './user-index.js';

export type {
  IoRedisLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
} from './client.js';

/** Options of {@link RedisStore}. Give exactly one of `client` and `url`. */
export interface RedisStoreOptions {
  /**
   * Type: a node-redis v4/v5 client or cluster (`createClient()`, `createCluster()`), or an
   * ioredis `Redis` or `Cluster`, connected by the application. Default: none.
   * The store never connects or closes it (`close()` leaves it open) and adds no listeners:
   * the application owns its `error` handling. Create it with the offline queue disabled
   * (node-redis `disableOfflineQueue: true`; ioredis `enableOfflineQueue: false`), otherwise a
   * command that timed out may still run after Redis comes back.
   */
  client?: RedisClientLike;
  /**
   * Type: `string` (`redis://…` or `rediss://…`). Default: none.
   * Instead of `client`: the store imports the optional `redis` package on first use, creates a
   * node-redis client with the offline queue disabled and a capped reconnect back-off, owns it
   * and closes it in `close()`. Errors of that client go to `onError`, once per outage.
   */
  url?: string;
  /**
   * Type: `string`, non-empty. Default: `'sess:'`.
   * Prepended to every key. `all`, `length` and `clear` touch only keys that start with it and
   * end with a valid session id. Two stores must not use prefixes where one starts with the other.
   */
  prefix?: string;
  /**
   * Type: `number` (ms, integer ≥ 1). Default: `2000`.
   * Upper bound on every Redis command. On timeout, or while the client is disconnected, a method
   * rejects with `StoreUnavailableError` (code `STORE_UNAVAILABLE`) instead of hanging.
   */
  commandTimeout?: number;
  /** Type: `number` (integer ≥ 1). Default: `100`. The `COUNT` hint of each `SCAN` step. */
  scanCount?: number;
  /**
   * Type: `number` (seconds, > 0). Default: `86400`.
   * Upper bound on a session's lifetime after its last write: an `expiresAt` further away than
   * `now + ttl` is clamped, so a clock or caller error can't park a key in Redis for years.
   * The manager passes its `maxAge / 1000`.
   */
  ttl?: number;
  /**
   * Type: `(error: Error) => void`. Default: `process.emitWarning`.
   * Receives what has no caller to reject: unreadable session keys met by `get`/`all` (read as
   * "no session"), and connection errors of the client the store owns (`url`).
   */
  onError?: BackgroundErrorHandler;
}

const DEFAULT_PREFIX = 'sess:';
const DEFAULT_TIMEOUT = 2000;
const DEFAULT_SCAN_COUNT = 100;
const DEFAULT_TTL = 86_400;

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

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        `RedisStore options must be an object with a client (got ${describe(options)})`,
      );
    }
    const { client, url } = options;
    if ((client === undefined) === (url === undefined)) {
      throw new InvalidOptionError(
        'RedisStore needs exactly one of client (a connected node-redis or ioredis client) and url',
      );
    }
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof this.prefix !== 'string' || this.prefix.length === 0 || this.prefix.length > 256) {
      throw new InvalidOptionError(
        `prefix must be a non-empty string of at most 256 characters (got ${describe(options.prefix)})`,
      );
    }
    this.commandTimeout = options.commandTimeout ?? DEFAULT_TIMEOUT;
    if (!isIntegerIn(this.commandTimeout, 1, 2_147_483_647)) {
      throw new InvalidOptionError(
        `commandTimeout must be an integer number of milliseconds ≥ 1 (got ${describe(options.commandTimeout)})`,
      );
    }
    this.scanCount = options.scanCount ?? DEFAULT_SCAN_COUNT;
    if (!isIntegerIn(this.scanCount, 1, 1_000_000)) {
      throw new InvalidOptionError(
        `scanCount must be an integer between 1 and 1000000 (got ${describe(options.scanCount)})`,
      );
    }
    this.ttl = options.ttl ?? DEFAULT_TTL;
    if (typeof this.ttl !== 'number' || !Number.isFinite(this.ttl) || this.ttl <= 0) {
      throw new InvalidOptionError(
        `ttl must be a positive number of seconds (got ${describe(options.ttl)})`,
      );
    }
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new InvalidOptionError(`onError must be a function (got ${describe(options.onError)})`);
    }
    this.#onError = options.onError;
    if (client !== undefined) {
      const flavour = detectFlavour(client);
      if (!flavour) {
        throw new InvalidOptionError(
          `client must be a node-redis client or cluster (sendCommand) or an ioredis client or cluster (call) (got ${describe(client)})`,
        );
      }
      this.#cmd = createCommander(client, flavour, this.commandTimeout);
    } else if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
      throw new InvalidOptionError(
        `url must be a string starting with redis:// or rediss:// (got ${describe(typeof url === 'string' ? '<a string>' : url)})`,
      );
    } else {
      this.#url = url;
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
    return this.#parse(reply, Date.now());
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
    const cmd = this.#cmd ?? (await this.#open());
    await this.#delete(cmd, this.prefix + id);
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

  async #script(s: typeof CREATE, id: string, args: string[]): Promise<unknown> {
    const cmd = this.#cmd ?? (await this.#open());
    try {
      return await runScript(cmd, s, this.prefix + id, args);
    } catch (error) {
      throw toStoreError(error);
    }
  }

  async #delete(cmd: RedisCommander, key: string): Promise<void> {
    try {
      await cmd.send(key, [this.#unlink ? 'UNLINK' : 'DEL', key]);
    } catch (error) {
      // Redis < 4 has no UNLINK: fall back to DEL once and for all.
      if (!this.#unlink || !isReplyError(error, 'ERR') || !/unknown command/i.test(error.message)) {
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
      new Error(`session-store-js: a Redis key under the prefix ${what}; read as no session`),
    );
    return undefined;
  }
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object${value && typeof value === 'object' && value.constructor?.name ? ` (${value.constructor.name})` : ''}`;
}
