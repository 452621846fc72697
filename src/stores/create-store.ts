import type { SessionStore } from '../types.js';
import { optionsObject, refuse } from '../validate.js';
import { FileStore, type FileStoreOptions } from './file/file-store.js';
import { MemoryStore, type MemoryStoreOptions } from './memory/memory-store.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres/postgres-store.js';
import { RedisStore, type RedisStoreOptions } from './redis/redis-store.js';

/** Options of the built-in stores, as `storeOptions` of the manager. */
export type BuiltInStoreOptions =
  | MemoryStoreOptions
  | FileStoreOptions
  | RedisStoreOptions
  | PostgresStoreOptions;

/** The store built when the manager is given neither `store` nor `storeType`. */
export const DEFAULT_STORE_TYPE = 'memory';

/**
 * Builds the store named by `storeType`. The store's own lifetime bound defaults to the
 * manager's `maxAge` (MemoryStore `maxAge` in ms; FileStore, RedisStore and PostgresStore `ttl`
 * in seconds),
 * so a store never keeps a session longer than the manager would honour it.
 */
export function createStore(
  storeType: unknown,
  storeOptions: unknown,
  maxAge: number,
): SessionStore {
  const options = optionsObject('storeOptions', (storeOptions ?? undefined) as object | undefined);
  const ttl = Math.ceil(maxAge / 1000);
  switch (storeType ?? DEFAULT_STORE_TYPE) {
    case 'memory':
      return new MemoryStore({ maxAge, ...(options as MemoryStoreOptions) });
    case 'file':
      return new FileStore({ ttl, ...(options as FileStoreOptions) });
    case 'redis':
      return new RedisStore({ ttl, ...(options as RedisStoreOptions) });
    case 'postgres':
      return new PostgresStore({ ttl, ...(options as PostgresStoreOptions) });
    default:
      refuse(
        'storeType',
        "'memory', 'file', 'redis' or 'postgres' (or pass a store instance as `store`)",
        storeType,
      );
  }
}

/** True when `value` has every method of the store contract. */
export function isSessionStore(value: unknown): value is SessionStore {
  if (value === null || typeof value !== 'object') return false;
  const store = value as Record<string, unknown>;
  return ['get', 'create', 'update', 'touch', 'destroy', 'all', 'length', 'clear', 'close'].every(
    (method) => typeof store[method] === 'function',
  );
}
