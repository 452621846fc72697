/**
 * The one wrapper around every store call the manager makes: a failure that is not already a
 * typed `SessionError` becomes `StoreUnavailableError` (with the store's error as its `cause`),
 * so an application sees one error class for "the store failed", whatever the store threw —
 * synchronously or as a rejection.
 */
import { SessionError, StoreUnavailableError } from './errors.js';

/**
 * Runs a store call with its failures mapped. With `then`, resolves what `then` makes of the
 * result (errors `then` throws pass untouched): one promise hop instead of an extra `await`.
 */
export function callStore<R>(call: () => Promise<R>): Promise<R>;
export function callStore<R, U>(
  call: () => Promise<R>,
  then: (result: R) => U | Promise<U>,
): Promise<U>;
export function callStore<R, U>(
  call: () => Promise<R>,
  then?: (result: R) => U | Promise<U>,
): Promise<R | U> {
  let pending: Promise<R>;
  try {
    pending = Promise.resolve(call());
  } catch (error) {
    return Promise.reject(storeFailure(error));
  }
  return pending.then(then, rejectStoreFailure);
}

/** A store's failure as the caller sees it: typed errors pass, others become `STORE_UNAVAILABLE`. */
function storeFailure(error: unknown): unknown {
  if (error instanceof SessionError) return error;
  return new StoreUnavailableError('the session store failed', { cause: error });
}

function rejectStoreFailure(error: unknown): never {
  throw storeFailure(error);
}
