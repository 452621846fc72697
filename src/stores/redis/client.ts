/**
 * The thin layer between RedisStore and a Redis client library. The store speaks raw commands
 * (`['HGETALL', key]`) through one `send` function; this file adapts node-redis (v4, v5; client
 * and cluster) and ioredis (client and cluster) to it, bounds every command with a timeout and
 * turns connection failures into `StoreUnavailableError`.
 *
 * The clients are typed structurally by the few members used, so neither `redis` nor `ioredis`
 * appears in the published types: both are optional peer
 * dependencies, and an application that uses one never installs the other's types.
 */
import { StoreUnavailableError, StoreWriteError } from '../../errors.js';

/** The members of a node-redis v4/v5 client (`createClient()`) that the store uses. */
export interface NodeRedisClientLike {
  sendCommand(args: string[]): Promise<unknown>;
  readonly isReady?: boolean;
}

/** The members of a node-redis v4/v5 cluster (`createCluster()`) that the store uses. */
export interface NodeRedisClusterLike {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  /** v4.6+ and v5: the master nodes, to `SCAN` each of them. */
  readonly masters?: readonly unknown[];
  /** v4 before 4.6. */
  getMasters?(): readonly unknown[];
  nodeClient(node: unknown): Promise<NodeRedisClientLike> | NodeRedisClientLike;
}

/** The members of an ioredis v5 client (`new Redis()`) or cluster (`new Cluster()`) that the store uses. */
export interface IoRedisLike {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly status?: string;
  readonly isCluster?: boolean;
  /** ioredis Cluster only: the master nodes, to `SCAN` each of them. */
  nodes?(role?: 'master' | 'slave' | 'all'): IoRedisLike[];
}

/** A client the application passes in: node-redis or ioredis, single node or cluster. */
export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | IoRedisLike;

/** Which library a client comes from. */
export type RedisFlavour = 'node-redis' | 'node-redis-cluster' | 'ioredis' | 'ioredis-cluster';

/** Sends one raw command and resolves its raw reply. */
export type SendCommand = (args: string[]) => Promise<unknown>;

/** What the store needs from a client, whatever its library. */
export interface RedisCommander {
  /**
   * Sends one command that touches exactly one key (`key`, used for cluster routing; always to the
   * master, never a replica that may lag behind a logout), bounded by
   * the command timeout. Connection failures and timeouts reject with `StoreUnavailableError`;
   * Redis error replies (`WRONGTYPE`, `NOSCRIPT`, …) reject with the client's own error object.
   */
  send(key: string, args: string[]): Promise<unknown>;
  /** One bounded `send` per master node (one for a single Redis), for `SCAN`. */
  masters(): Promise<SendCommand[]>;
  /** A Redis Cluster client: a script may touch only keys of one slot. */
  readonly cluster: boolean;
}

/**
 * A node-redis v4 client created with `legacyMode: true` has callback methods and keeps the
 * promise API under `.v4` (connect-redis#336): use that one.
 */
export function unwrapLegacy(client: unknown): unknown {
  const v4 = (client as { v4?: { sendCommand?: unknown } } | null)?.v4;
  return typeof v4?.sendCommand === 'function' ? v4 : client;
}

/** Detects the library of `client` by shape, or returns `undefined` when it is neither. */
export function detectFlavour(client: unknown): RedisFlavour | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const c = unwrapLegacy(client) as Record<string, unknown>;
  if (typeof c.call === 'function') return c.isCluster === true ? 'ioredis-cluster' : 'ioredis';
  if (typeof c.sendCommand === 'function') {
    return typeof c.nodeClient === 'function' ? 'node-redis-cluster' : 'node-redis';
  }
  return undefined;
}

/** Builds the commander for a client whose flavour `detectFlavour` found. */
export function createCommander(
  client: RedisClientLike,
  flavour: RedisFlavour,
  timeoutMs: number,
): RedisCommander {
  const bound = (send: SendCommand): SendCommand => {
    return (args) => attempt(() => send(args), timeoutMs);
  };
  switch (flavour) {
    case 'node-redis': {
      const c = unwrapLegacy(client) as NodeRedisClientLike;
      const send = bound((args) => c.sendCommand(args));
      return { send: (_key, args) => send(args), masters: async () => [send], cluster: false };
    }
    case 'ioredis': {
      const c = client as IoRedisLike;
      const send = bound((args) => c.call(args[0]!, ...args.slice(1)));
      return { send: (_key, args) => send(args), masters: async () => [send], cluster: false };
    }
    case 'node-redis-cluster': {
      const c = client as NodeRedisClusterLike;
      return {
        send: (key, args) => attempt(() => c.sendCommand(key, false, args), timeoutMs),
        masters: () =>
          attempt(async () => {
            const nodes = c.masters ?? c.getMasters?.() ?? [];
            if (nodes.length === 0) throw noMasters();
            const clients = await Promise.all(nodes.map((node) => c.nodeClient(node)));
            return clients.map((n) => bound((args) => n.sendCommand(args)));
          }, timeoutMs),
        cluster: true,
      };
    }
    case 'ioredis-cluster': {
      const c = client as IoRedisLike;
      return {
        send: (_key, args) => attempt(() => c.call(args[0]!, ...args.slice(1)), timeoutMs),
        masters: async () => {
          const nodes = c.nodes?.('master') ?? [];
          if (nodes.length === 0) throw noMasters();
          return nodes.map((n) => bound((args) => n.call(args[0]!, ...args.slice(1))));
        },
        cluster: true,
      };
    }
  }
}

/** A cluster client that knows no master yet (not connected): listing would silently miss keys. */
function noMasters(): StoreUnavailableError {
  return new StoreUnavailableError('the Redis Cluster client knows no master node yet');
}

/** Runs `thunk` under {@link withTimeout}; a synchronous throw becomes a rejection too. */
function attempt<T>(thunk: () => Promise<T>, timeoutMs: number): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = thunk();
  } catch (error) {
    promise = Promise.reject(error);
  }
  return withTimeout(promise, timeoutMs);
}

/**
 * Races `promise` against a timer. A timeout or a connection-level failure becomes
 * `StoreUnavailableError`; a Redis error reply is passed through unchanged so that callers can
 * react to `NOSCRIPT` or `WRONGTYPE`. connect-redis#373/#400: without this a request hangs for as
 * long as the client's offline queue holds it.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new StoreUnavailableError(`Redis did not answer within ${timeoutMs} ms (commandTimeout)`),
      );
    }, timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(isReplyError(error) ? error : unavailable(error));
      },
    );
  });
}

const REPLY_ERROR_NAMES = new Set(['ReplyError', 'ErrorReply', 'SimpleError', 'BlobError']);

/** Redis states that mean "not now, try later" rather than "this command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/;

/** True for an error reply sent by the Redis server (as opposed to a socket or client error). */
export function isReplyError(error: unknown, code?: string): error is Error {
  if (!(error instanceof Error)) return false;
  const name = error.constructor?.name ?? error.name;
  if (!REPLY_ERROR_NAMES.has(name) && !REPLY_ERROR_NAMES.has(error.name)) return false;
  if (code === undefined) return !TRANSIENT_REPLY.test(error.message);
  return error.message.startsWith(`${code} `) || error.message === code;
}

function unavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(`Redis is unavailable (${reason})`, {
    cause: error,
  });
}

/**
 * Maps a Redis error reply that the store did not handle itself to a library error: `OOM` (a full
 * Redis with `noeviction`) is a refused write; anything else means the store can't serve the
 * request. Only the reply's first word is quoted: messages never carry keys or ids.
 */
export function toStoreError(error: unknown): Error {
  if (!isReplyError(error)) return unavailable(error);
  const code = error.message.split(' ', 1)[0] ?? 'ERR';
  if (code === 'OOM') {
    return new StoreWriteError('Redis refused the write (OOM, maxmemory reached)', {
      cause: error,
    });
  }
  return new StoreUnavailableError(`Redis replied with an error (${code})`, {
    cause: error,
  });
}
