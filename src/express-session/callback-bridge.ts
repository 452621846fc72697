import { SessionError, StoreUnavailableError } from '../errors.js';
import type { StoreCallback } from './to-express-store-options.js';

/**
 * The bridge from the adapter's promises to express-session's callbacks: one place that decides
 * on which tick a callback runs and what a failure looks like to express-session.
 */

/**
 * Runs `work` and calls `callback` on a later tick, outside the promise chain: an exception from
 * the callback is the caller's, and can't be swallowed or turned into an unhandled rejection.
 * Failures that are not typed become `StoreUnavailableError`.
 */
export function settle<T>(work: () => Promise<T>, callback: StoreCallback<T> | undefined): void {
  let pending: Promise<T>;
  try {
    pending = work();
  } catch (error) {
    pending = Promise.reject(error);
  }
  pending.then(
    (value) => {
      if (callback) process.nextTick(callback, null, value);
    },
    (error: unknown) => {
      const typed =
        error instanceof SessionError
          ? error
          : new StoreUnavailableError('the session store failed', { cause: error });
      if (callback) process.nextTick(callback, typed);
    },
  );
}
