/**
 * Calling an express-session store: its methods take a callback, return a promise, or both, and
 * some throw synchronously or never call back at all. `callLegacy` turns every one of those into
 * a promise that settles exactly once, within a bounded time, with a typed error on failure.
 */
import { StoreUnavailableError } from './errors.js';

/** The callback an express-session store method is given. */
export type LegacyCallback = (error?: unknown, result?: unknown) => void;

/**
 * The methods of an express-session store (connect-redis, connect-pg-simple, session-file-store,
 * memorystore, express-session's `MemoryStore`, …), typed by what this library calls. `get`,
 * `set` and `destroy` are required by express-session; the others are optional there.
 */
export interface ExpressStoreLike {
  get(sid: string, callback: LegacyCallback): unknown;
  set(sid: string, session: object, callback: LegacyCallback): unknown;
  destroy(sid: string, callback: LegacyCallback): unknown;
  all?(callback: LegacyCallback): unknown;
  length?(callback: LegacyCallback): unknown;
  clear?(callback: LegacyCallback): unknown;
  /** connect-redis and memorystore list their session ids. */
  ids?(callback: LegacyCallback): unknown;
  /** session-file-store lists its file names. */
  list?(callback: LegacyCallback): unknown;
}

/** The methods `callLegacy` can call. */
export type LegacyMethod = 'get' | 'set' | 'destroy' | 'all' | 'length' | 'clear' | 'ids' | 'list';

/** How long a legacy store call may take before it counts as unavailable, when not configured. */
export const DEFAULT_LEGACY_TIMEOUT_MS = 5000;

/**
 * The lifetime assumed for a stored session whose cookie has no `expires`, when not configured:
 * one day, as connect-redis and connect-pg-simple assume.
 */
export const DEFAULT_LEGACY_TTL_MS = 86_400_000;

/** True when `value` has the three methods every express-session store has. */
export function isExpressStoreLike(value: unknown): value is ExpressStoreLike {
  if (value === null || typeof value !== 'object') return false;
  const store = value as Record<string, unknown>;
  return (
    typeof store.get === 'function' &&
    typeof store.set === 'function' &&
    typeof store.destroy === 'function'
  );
}

/**
 * Calls `store[method](...args, callback)` and resolves its result.
 *
 * - The first of the callback and a returned promise to settle wins; later calls are ignored (a
 *   store may call back and resolve, as connect-redis does, or call back twice).
 * - A method that declares the callback parameter is callback-style: a promise it returns only
 *   counts when it rejects (an `async` method that calls back later resolves `undefined` first).
 * - `get` failing with `code === 'ENOENT'` means "not found", as express-session reads it
 *   (session-file-store reports a missing file that way).
 * - A synchronous throw, a callback error or a rejection becomes `StoreUnavailableError` with
 *   the original as `cause`; so does no answer within `timeoutMs`.
 */
export function callLegacy(
  store: ExpressStoreLike,
  method: LegacyMethod,
  args: readonly unknown[],
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      fail(
        new StoreUnavailableError(
          `the express-session store's ${method}() did not answer within ${timeoutMs} ms (option timeout)`,
        ),
      );
    }, timeoutMs);
    function done(result: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    }
    function fail(error: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(
        error instanceof StoreUnavailableError
          ? error
          : new StoreUnavailableError(`the express-session store's ${method}() failed`, {
              cause: error,
            }),
      );
    }
    const callback: LegacyCallback = (error, result) => {
      if (error === undefined || error === null) done(result);
      else if (method === 'get' && (error as { code?: unknown }).code === 'ENOENT') done(undefined);
      else fail(error);
    };
    const fn = (store as unknown as Record<string, unknown>)[method];
    let returned: unknown;
    try {
      if (typeof fn !== 'function') throw new TypeError(`store.${method} is not a function`);
      returned = fn.apply(store, [...args, callback]);
    } catch (error) {
      fail(error);
      return;
    }
    if (returned !== null && typeof returned === 'object' && 'then' in returned) {
      const callbackStyle = fn.length > args.length;
      (returned as PromiseLike<unknown>).then(
        (value) => {
          if (!callbackStyle) done(value);
        },
        (error: unknown) => fail(error ?? new Error('the promise was rejected without a reason')),
      );
    }
  });
}
