import type { IncomingMessage, ServerResponse } from 'node:http';
import { NoSessionMiddlewareError } from './errors.js';
import type { JsonValue } from './types.js';

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
  /** The signed cookie value of `signedId`, kept so a renewal doesn't compute the HMAC again. */
  signedValue: string | undefined = undefined;
  signedId: string | undefined = undefined;
  /** The request carried a cookie of our name (valid or not), so a logout should clear it. */
  hadCookie = false;
  /** Writes of one request run one after another, so two `set`s can't create two sessions. */
  #queue: Promise<unknown> | undefined;

  constructor(req: SessionRequest, res: ServerResponse) {
    this.req = req;
    this.res = res;
  }

  adopt(id: string, data: Record<string, JsonValue>, createdAt: number, expiresAt: number): void {
    this.id = id;
    this.data = data;
    this.createdAt = createdAt;
    this.expiresAt = expiresAt;
    this.req.sessionID = id;
  }

  forget(): void {
    this.id = undefined;
    this.data = undefined;
    this.req.sessionID = undefined;
  }

  /** Runs `task` after every write queued before it in this request. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue ? this.#queue.then(task, task) : task();
    const settled: Promise<void> = run.then(
      () => this.#settle(settled),
      () => this.#settle(settled),
    );
    this.#queue = settled;
    return run;
  }

  /** Resolves once queued writes are done (immediately when there are none). */
  idle(): Promise<unknown> | undefined {
    return this.#queue;
  }

  #settle(settled: Promise<unknown>): void {
    if (this.#queue === settled) this.#queue = undefined;
  }
}

/**
 * Where a manager keeps its state on a request. Each manager has its own key, so two managers
 * (two cookie names) on one app never share a session.
 */
export class StateSlot {
  readonly #key = Symbol('session-store-js');

  /** Attaches a fresh state, or returns `undefined` when this manager already handled `req`. */
  attach(req: SessionRequest, res: ServerResponse): RequestState | undefined {
    const carrier = req as unknown as Record<symbol, RequestState | undefined>;
    if (carrier[this.#key]) return undefined;
    const state = new RequestState(req, res);
    carrier[this.#key] = state;
    req.sessionID = undefined;
    return state;
  }

  /** The state of `req`; throws `NoSessionMiddlewareError` when the middleware did not run. */
  of(req: SessionRequest): RequestState {
    const state = (req as unknown as Record<symbol, RequestState | undefined>)[this.#key];
    if (!state) throw new NoSessionMiddlewareError();
    return state;
  }
}
