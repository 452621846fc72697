import { IncomingMessage, ServerResponse } from 'node:http';
import { NoSessionMiddlewareError } from './errors.js';
import { prepareForProperties } from './own-properties.js';
import type { JsonValue, UserBinding } from './types.js';

/** A request as the library sees it: Node's, with the `sessionID` the middleware sets. */
export type SessionRequest = IncomingMessage & { sessionID?: string | undefined };

/** What one request knows about its session. Lives on the request, never in module scope. */
export class RequestState {
  readonly req: SessionRequest;
  readonly res: ServerResponse;
  /** Id of the live session, when there is one. */
  id: string | undefined = undefined;
  /** This request's copy of the live session's data and times. */
  data: Record<string, JsonValue> | undefined = undefined;
  createdAt = 0;
  expiresAt = 0;
  /** The user the live session is bound to, when it is. */
  user: UserBinding | undefined = undefined;
  /** The signed cookie value of `signedId`, kept so a renewal doesn't compute the HMAC again. */
  signedValue: string | undefined = undefined;
  signedId: string | undefined = undefined;
  /** The request carried a cookie of our name (valid or not), so a logout should clear it. */
  hadCookie = false;
  /**
   * Writes of one request run one after another, so two `set`s can't create two sessions.
   * `#tail` settles (never rejects) once every queued write has; `#pending` counts them.
   */
  #tail: Promise<unknown> | undefined = undefined;
  #pending = 0;
  /** Made at the first write of the request (most requests never write). */
  #onSettled: (() => void) | undefined = undefined;

  constructor(req: SessionRequest, res: ServerResponse) {
    this.req = req;
    this.res = res;
  }

  adopt(id: string, data: Record<string, JsonValue>, createdAt: number, expiresAt: number): void {
    this.id = id;
    this.data = data;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
    this.user = undefined;
    this.req.sessionID = id;
  }

  forget(): void {
    this.id = undefined;
    this.data = undefined;
    this.user = undefined;
    clearSessionId(this.req);
  }

  /** Runs `task` after every write queued before it in this request. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const tail = this.#tail;
    const run = tail ? tail.then(task) : task();
    this.#onSettled ??= () => {
      if (--this.#pending === 0) this.#tail = undefined;
    };
    const onSettled = this.#onSettled;
    this.#pending++;
    this.#tail = run.then(onSettled, onSettled);
    return run;
  }

  /** Settles once queued writes are done; `undefined` when there are none. Never rejects. */
  idle(): Promise<unknown> | undefined {
    return this.#tail;
  }
}

/**
 * Where a manager keeps its state on a request. Each manager has its own key, so two managers
 * (two cookie names) on one app never share a session. (A `WeakMap` was measured: it spares the
 * property added to `req` but costs several µs of GC per request; the property is cheap once
 * `prepareForProperties` has run.)
 */
export class StateSlot {
  readonly #key = Symbol('session-store-js');

  /** Attaches a fresh state, or returns `undefined` when this manager already handled `req`. */
  attach(req: SessionRequest, res: ServerResponse): RequestState | undefined {
    const carrier = req as unknown as Record<symbol, RequestState | undefined>;
    if (carrier[this.#key]) return undefined;
    const state = new RequestState(req, res);
    prepareForProperties(req, IncomingMessage.prototype);
    prepareForProperties(res, ServerResponse.prototype);
    carrier[this.#key] = state;
    clearSessionId(req);
    return state;
  }

  /** The state of `req`; throws `NoSessionMiddlewareError` when the middleware did not run. */
  of(req: SessionRequest): RequestState {
    const state = (req as unknown as Record<symbol, RequestState | undefined>)[this.#key];
    if (!state) throw new NoSessionMiddlewareError();
    return state;
  }
}

/**
 * Makes `req.sessionID` read `undefined`, whatever set it before, without adding the property
 * when it is absent: adding a property to Express's requests (whose prototype Express swaps)
 * makes V8 build a new hidden class, about 1 µs, and most requests never get a session.
 */
function clearSessionId(req: SessionRequest): void {
  if (req.sessionID !== undefined) req.sessionID = undefined;
}
