/** MemoryStore options: their documentation, defaults and validation. */
import type { BackgroundErrorHandler } from '../../types.js';
import {
  intervalMs,
  lifetimeMs,
  oneOf,
  optionalFunction,
  optionsObject,
  positiveInteger,
} from '../../validate.js';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Longest time (ms) a session is kept after its last write; the store clamps every expiry to
   * it. At most ten years. A store built by the SessionManager gets the manager's `maxAge`.
   * @default 86400000 (one day)
   */
  maxAge?: number;
  /**
   * How often (ms) expired sessions are removed. `0` disables the timer.
   * @default 60000
   */
  cleanupInterval?: number;
  /**
   * How often (ms) the expiration index is rebuilt and compacted, and the table of sessions
   * shrunk after a mass expiry. `0` disables.
   * @default 600000
   */
  indexInterval?: number;
  /**
   * Most sessions held at once; see `whenFull`.
   * @default 100000
   */
  maxSessions?: number;
  /**
   * What creating a session does when `maxSessions` are held. `'evict-oldest'` removes the
   * session that expires soonest — the one idle the longest — and creates the new one;
   * `'reject'` refuses the new session with `StoreFullError` (code `STORE_FULL`) and keeps every
   * existing one, so a flood of new visitors can't log anybody out.
   * @default 'evict-oldest'
   */
  whenFull?: 'evict-oldest' | 'reject';
  /**
   * Receives errors from the background timers.
   * @default process.emitWarning
   */
  onError?: BackgroundErrorHandler;
}

/** The defaults of {@link MemoryStoreOptions}: the one place each is written. */
export const MEMORY_STORE_DEFAULTS = {
  maxAge: 86_400_000,
  cleanupInterval: 60_000,
  indexInterval: 600_000,
  maxSessions: 100_000,
  whenFull: 'evict-oldest',
} as const;

/** Beyond this a Map of sessions exhausts any machine's memory long before it is reached. */
const MAX_SESSIONS = 2 ** 30;

export interface ResolvedMemoryStoreOptions {
  maxAge: number;
  cleanupInterval: number;
  indexInterval: number;
  maxSessions: number;
  whenFull: 'evict-oldest' | 'reject';
  onError: BackgroundErrorHandler | undefined;
}

/** Validates MemoryStore options and fills in defaults. Throws InvalidOptionError. */
export function resolveMemoryStoreOptions(
  options: MemoryStoreOptions | undefined,
): ResolvedMemoryStoreOptions {
  const o = optionsObject('MemoryStore options', options);
  const d = MEMORY_STORE_DEFAULTS;
  return {
    maxAge: lifetimeMs('maxAge', o.maxAge, d.maxAge),
    cleanupInterval: intervalMs('cleanupInterval', o.cleanupInterval, d.cleanupInterval),
    indexInterval: intervalMs('indexInterval', o.indexInterval, d.indexInterval),
    maxSessions: positiveInteger('maxSessions', o.maxSessions, d.maxSessions, MAX_SESSIONS),
    whenFull: oneOf('whenFull', o.whenFull, d.whenFull, ['evict-oldest', 'reject'] as const),
    onError: optionalFunction<BackgroundErrorHandler>('onError', o.onError),
  };
}
