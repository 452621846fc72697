/** RedisStore options: their documentation, defaults and validation. */
import type { BackgroundErrorHandler } from '../../types.js';
import {
  intervalMs,
  lifetimeSeconds,
  nonEmptyString,
  optionalFunction,
  optionsObject,
  positiveInteger,
  refuse,
} from '../../validate.js';
import { detectFlavour, type RedisClientLike, type RedisFlavour } from './client.js';

/** Options of {@link RedisStore}. Give exactly one of `client` and `url`. */
export interface RedisStoreOptions {
  /**
   * A node-redis v4/v5 client or cluster (`createClient()`, `createCluster()`), or an ioredis
   * `Redis` or `Cluster`, connected by the application.
   * The store never connects or closes it (`close()` leaves it open) and adds no listeners:
   * the application owns its `error` handling. Create it with the offline queue disabled
   * (node-redis `disableOfflineQueue: true`; ioredis `enableOfflineQueue: false`), otherwise a
   * command that timed out may still run after Redis comes back.
   * @default undefined (give `client` or `url`)
   */
  client?: RedisClientLike;
  /**
   * A `redis://…` or `rediss://…` URL, instead of `client`: the store imports the optional
   * `redis` package on first use, creates a node-redis client with the offline queue disabled and
   * a capped reconnect back-off, owns it and closes it in `close()`. Errors of that client go to
   * `onError`, once per outage.
   * @default undefined
   */
  url?: string;
  /**
   * Prepended to every key: a non-empty string of at most 256 characters. `all`, `length` and
   * `clear` touch only keys that start with it and end with a valid session id. Two stores must
   * not use prefixes where one starts with the other.
   * @default 'sess:'
   */
  prefix?: string;
  /**
   * Upper bound on every Redis command, in ms (an integer from 1 to 2^31 - 1). On timeout, or
   * while the client is disconnected, a method rejects with `StoreUnavailableError` (code
   * `STORE_UNAVAILABLE`) instead of hanging.
   * @default 2000
   */
  commandTimeout?: number;
  /**
   * The `COUNT` hint of each `SCAN` step: an integer from 1 to 1 000 000.
   * @default 100
   */
  scanCount?: number;
  /**
   * Upper bound, in seconds, on a session's lifetime after its last write: an `expiresAt` further
   * away than `now + ttl` is clamped, so a clock or caller error can't park a key in Redis for
   * years. Above 0, at most ten years. A store built by the SessionManager gets the manager's
   * `maxAge / 1000`.
   * @default 86400 (one day)
   */
  ttl?: number;
  /**
   * Receives what has no caller to reject: unreadable session keys met by `get`/`all` (read as
   * "no session"), and connection errors of the client the store owns (`url`).
   * @default process.emitWarning
   */
  onError?: BackgroundErrorHandler;
}

/** The defaults of {@link RedisStoreOptions}: the one place each is written. */
export const REDIS_STORE_DEFAULTS = {
  prefix: 'sess:',
  commandTimeout: 2000,
  scanCount: 100,
  ttl: 86_400,
} as const;

/** Longer prefixes only waste memory in every key; 256 leaves room for any namespace scheme. */
const MAX_PREFIX_LENGTH = 256;
const MAX_SCAN_COUNT = 1_000_000;

interface ResolvedCommon {
  prefix: string;
  commandTimeout: number;
  scanCount: number;
  ttl: number;
  onError: BackgroundErrorHandler | undefined;
}

export type ResolvedRedisStoreOptions = ResolvedCommon &
  ({ client: RedisClientLike; flavour: RedisFlavour } | { url: string });

/** Validates RedisStore options and fills in defaults. Throws InvalidOptionError. */
export function resolveRedisStoreOptions(
  options: RedisStoreOptions | undefined,
): ResolvedRedisStoreOptions {
  const o = optionsObject('RedisStore options', options);
  const d = REDIS_STORE_DEFAULTS;
  const { client, url } = o;
  if ((client === undefined) === (url === undefined)) {
    refuse(
      'RedisStore options',
      'given exactly one of client (a connected node-redis or ioredis client) and url',
      client === undefined ? 'neither' : 'both',
    );
  }
  const common: ResolvedCommon = {
    prefix: nonEmptyString('prefix', o.prefix, d.prefix, MAX_PREFIX_LENGTH),
    commandTimeout: intervalMs('commandTimeout', o.commandTimeout, d.commandTimeout, 1),
    scanCount: positiveInteger('scanCount', o.scanCount, d.scanCount, MAX_SCAN_COUNT),
    ttl: lifetimeSeconds('ttl', o.ttl, d.ttl),
    onError: optionalFunction<BackgroundErrorHandler>('onError', o.onError),
  };
  if (client !== undefined) {
    const flavour = detectFlavour(client);
    if (!flavour) {
      refuse(
        'client',
        'a node-redis client or cluster (sendCommand) or an ioredis client or cluster (call)',
        client,
      );
    }
    return { ...common, client, flavour };
  }
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    // A URL may carry a password: show only its kind.
    refuse(
      'url',
      'a string starting with redis:// or rediss://',
      url,
      typeof url === 'string' ? 'another string' : undefined,
    );
  }
  return { ...common, url };
}
