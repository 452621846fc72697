/**
 * Every failure the library reports is an instance of {@link SessionError} with a stable `code`.
 * Match on `err.code` (or `instanceof` the class); messages are for humans and may change.
 * Messages never contain a session id, a cookie value or a secret.
 */

/** Stable error codes. */
export type SessionErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_SESSION_ID'
  | 'INVALID_SESSION_DATA'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_DESTROYED'
  | 'SESSION_COLLISION'
  | 'NO_SESSION_MIDDLEWARE'
  | 'HEADERS_SENT'
  | 'STORE_FULL'
  | 'STORE_UNAVAILABLE'
  | 'STORE_WRITE_FAILED'
  | 'STORE_CLOSED'
  | 'NOT_SUPPORTED';

/** What every message of a {@link SessionError} and every warning of the library starts with. */
const PREFIX = 'session-store-js: ';

/**
 * Base class of every error thrown or rejected by session-store-js. Its message starts with
 * `session-store-js: ` (added here, so subclasses and callers never repeat it).
 */
export class SessionError extends Error {
  readonly code: SessionErrorCode;
  /** Suggested HTTP status for an app that maps errors to responses. */
  readonly status: number;
  constructor(
    code: SessionErrorCode,
    message: string,
    status = 500,
    options?: { cause?: unknown },
  ) {
    super(PREFIX + message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** A constructor option is missing or malformed. Thrown synchronously by constructors. */
export class InvalidOptionError extends SessionError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
  }
}

/** A session id failed the format check (a store re-checks every id it is given). */
export class InvalidSessionIdError extends SessionError {
  constructor(message = 'session id has an invalid format') {
    super('INVALID_SESSION_ID', message, 400);
  }
}

/** A key or value given to `set` is not allowed (not JSON, a reserved key, a cycle, …). */
export class InvalidSessionDataError extends SessionError {
  constructor(message: string) {
    super('INVALID_SESSION_DATA', message, 400);
  }
}

/** A value or a whole session is larger than the configured limit. */
export class SessionTooLargeError extends SessionError {
  constructor(message: string) {
    super('SESSION_TOO_LARGE', message, 413);
  }
}

/** The session was destroyed (or expired) while this request was using it; nothing was written. */
export class SessionDestroyedError extends SessionError {
  constructor(message = 'the session was destroyed or expired; the write was refused') {
    super('SESSION_DESTROYED', message, 409);
  }
}

/** A new session id collided with an existing one too many times in a row. */
export class SessionCollisionError extends SessionError {
  constructor(message = 'could not create a session with a unique id') {
    super('SESSION_COLLISION', message, 500);
  }
}

/** `get`/`set`/… was called with a request that did not go through `middleware()`. */
export class NoSessionMiddlewareError extends SessionError {
  constructor() {
    super(
      'NO_SESSION_MIDDLEWARE',
      'this request did not pass through sessionManager.middleware(); add app.use(sessionManager.middleware()) before your routes',
    );
  }
}

/** A new session can't be started because the response headers (and so the cookie) are already sent. */
export class HeadersSentError extends SessionError {
  constructor() {
    super(
      'HEADERS_SENT',
      'the response headers were already sent, so a new session cookie cannot be delivered; call set() before sending the response',
    );
  }
}

/** The store refused a new session because it holds `maxSessions` and is set to reject. */
export class StoreFullError extends SessionError {
  constructor(message = 'the session store is full') {
    super('STORE_FULL', message, 503);
  }
}

/** The store could not be reached in time (Redis down, command timeout, …). */
export class StoreUnavailableError extends SessionError {
  constructor(message = 'the session store is unavailable', options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, 503, options);
  }
}

/** The store could not persist a write (disk full, read-only file system, …); the old state is kept. */
export class StoreWriteError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_WRITE_FAILED', message, 503, options);
  }
}

/** The store was closed with `close()`. */
export class StoreClosedError extends SessionError {
  constructor() {
    super('STORE_CLOSED', 'the session store is closed', 503);
  }
}

/**
 * A feature needs a guarantee or an optional tier that the store does not provide (for example
 * per-user sessions on a store without the user index). The message names what is missing and why.
 */
export class NotSupportedError extends SessionError {
  constructor(message: string) {
    super('NOT_SUPPORTED', `session-store-js: ${message}`, 501);
  }
}

/**
 * Reports an error from background work (a timer) without ever throwing into the process:
 * to `handler` when given, else as a process warning with code `SESSION_STORE_BACKGROUND_ERROR`.
 */
export function reportBackgroundError(
  handler: ((error: Error) => void) | undefined,
  error: unknown,
): void {
  const err = error instanceof Error ? error : new Error(String(error));
  try {
    if (handler) handler(err);
    else process.emitWarning(err, { code: 'SESSION_STORE_BACKGROUND_ERROR' });
  } catch {
    // A throwing handler must not turn a background failure into a crash.
  }
}

/** Emits a process warning with `code`, its message prefixed like every error's. */
export function emitLibraryWarning(message: string, code: string): void {
  process.emitWarning(PREFIX + message, { code });
}
