/**
 * The `url` convenience of RedisStore: a node-redis client that the store creates, owns and
 * closes. `redis` is an optional peer dependency, so it is imported only when `url` is used,
 * through a computed specifier that keeps its types out of ours.
 */
import { InvalidOptionError, reportBackgroundError } from '../../errors.js';
import type { BackgroundErrorHandler } from '../../types.js';
import type { NodeRedisClientLike } from './client.js';

interface NodeRedisOwnedClient extends NodeRedisClientLike {
  connect(): Promise<unknown>;
  on(event: string, listener: (arg: unknown) => void): unknown;
  readonly isOpen?: boolean;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

interface NodeRedisModule {
  createClient(options: object): NodeRedisOwnedClient;
}

/** A client the store owns: `connected` settles on the first successful connection. */
export interface OwnedClient {
  client: NodeRedisClientLike;
  connected: Promise<unknown>;
  close(): Promise<void>;
}

/** Reconnect back-off: 50 ms, 100 ms, … capped at 2 s; node-redis never gives up. */
export function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 10), 2000);
}

export async function openUrlClient(
  url: string,
  commandTimeout: number,
  onError: BackgroundErrorHandler | undefined,
): Promise<OwnedClient> {
  const specifier = 'redis';
  let mod: NodeRedisModule;
  try {
    mod = (await import(specifier)) as NodeRedisModule;
  } catch (error) {
    throw Object.assign(
      new InvalidOptionError(
        'url needs the optional peer dependency "redis" (node-redis); run: npm install redis — or pass your own client instead',
      ),
      { cause: error },
    );
  }
  const client = mod.createClient({
    url,
    // A command sent while disconnected fails at once instead of waiting in a queue and running
    // minutes later (node-redis#2205, connect-redis#373).
    disableOfflineQueue: true,
    socket: { connectTimeout: commandTimeout, reconnectStrategy: reconnectDelay },
  });
  // node-redis emits `error` on every failed reconnect; report the first of each outage only.
  let down = false;
  client.on('error', (error) => {
    if (down) return;
    down = true;
    reportBackgroundError(onError, error);
  });
  client.on('ready', () => {
    down = false;
  });
  const connected = client.connect();
  connected.catch(() => {});
  return {
    client,
    connected,
    async close() {
      try {
        if (client.isOpen === false) return;
        if (client.isReady === false) {
          // node-redis leaves the socket of an attempt still in flight open when destroyed: let
          // that attempt end first (it connects or fails within connectTimeout).
          await new Promise((settle) => {
            connected.then(settle, settle);
            client.on('error', settle);
            setTimeout(settle, commandTimeout).unref();
          });
        }
        if (client.isReady === false) client.destroy?.();
        else if (client.close) await client.close();
        else await client.quit?.();
      } catch {
        client.destroy?.();
      }
    },
  };
}
