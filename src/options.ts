import type { CookieOptions } from './cookie.js';
import { InvalidOptionError } from './errors.js';
import type { ExpressStoreLike } from './legacy-call.js';
import type { MigrateFromOptions } from './legacy-import.js';
import type { SessionEvent } from './middleware.js';
import type { Secret } from './signer.js';
import type { FileStoreOptions } from './stores/file/file-store.js';
import type { MemoryStoreOptions } from './stores/memory/memory-store.js';
import type { PostgresStoreOptions } from './stores/postgres/postgres-store.js';
import type { RedisStoreOptions } from './stores/redis/redis-store.js';
import type { SessionStore } from './types.js';

/** Options of `new SessionManager(options)`. */
export interface SessionManagerOptions<S extends SessionStore = SessionStore> {
  /**
   * Which built-in store to create: `'memory'`, `'file'`, `'redis'` or `'postgres'`. Ignored
   * when `store` is given. Default: `'memory'`.
   */
  storeType?: 'memory' | 'file' | 'redis' | 'postgres';
  /** Options of the built-in store chosen by `storeType`. Default: `{}`. */
  storeOptions?: MemoryStoreOptions | FileStoreOptions | RedisStoreOptions | PostgresStoreOptions;
  /** A store instance (any implementation of `SessionStore`); takes precedence over `storeType`. */
  store?: S;
  /**
   * Signs the cookie: a string, a Buffer, or an array of them — the first signs, every one
   * verifies, so secrets can be rotated without logging anyone out. Required. Under
   * `NODE_ENV=production` a secret shorter than 32 characters is refused; elsewhere it warns.
   */
  secret: Secret | readonly Secret[];
  /** Name of the session cookie. Default: `'sid'` (a generic name, as OWASP advises). */
  cookieName?: string;
  /**
   * Idle lifetime in ms: a session not renewed (by `set`, `touch` or rolling) for this long
   * expires. Also the cookie's `Expires`. Default: 86 400 000 (24 hours).
   */
  maxAge?: number;
  /**
   * Absolute lifetime cap in ms from the session's creation, whatever the activity (OWASP's
   * "absolute timeout"); `regenerate` starts a new lifetime. Default: none.
   */
  absoluteTimeout?: number;
  /**
   * Renew the idle lifetime of a session when a request merely loads it, not only on
   * `set`/`touch`, so active readers stay logged in. Throttled by `touchAfter`. Default: `true`.
   */
  rolling?: boolean;
  /**
   * With `rolling`, a loaded session is renewed (one store `touch` and a fresh cookie) only when
   * that extends its expiry by at least this many ms — at most one store write per session per
   * `touchAfter` for read-only traffic. Default: `min(60 000, maxAge / 10)`.
   */
  touchAfter?: number;
  /** Attributes of the session cookie. Default: `{ httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/' }`. */
  cookie?: CookieOptions;
  /** Largest value `set` accepts, in bytes of JSON. Default: 262 144 (256 KiB). */
  maxValueBytes?: number;
  /**
   * Receives detection events — `invalid-signature`, `unknown-session`, `duplicate-cookie` —
   * to count or alert on (guessing, tampering, cookie tossing). Events carry no id or cookie
   * value. Called synchronously; errors it throws are ignored. Default: none.
   */
  onEvent?: (event: SessionEvent) => void;
  /**
   * Most live sessions one user may have (see `regenerate({ user })`); a login beyond it is
   * handled by `whenUserFull`. Needs a store with the user index. Default: no limit.
   */
  maxSessionsPerUser?: number;
  /**
   * A login of a user at `maxSessionsPerUser`: `'evict-oldest'` destroys that user's session
   * expiring soonest (the one idle the longest); `'reject'` refuses the login with
   * `StoreFullError` (code `STORE_FULL`). Default: `'evict-oldest'`.
   */
  whenUserFull?: 'evict-oldest' | 'reject';
  /**
   * An express-session store to move sessions from, so switching from express-session logs
   * nobody out (keep its `secret` and use `cookieName: 'connect.sid'`). A correctly signed id the
   * store lacks is read once from this store, created here (insert-if-absent) and removed there
   * in the same step; a failure of this store answers 503, never "logged out". Give the store, or
   * `{ store, timeout, ttl, onError }`. Default: none.
   */
  migrateFrom?: ExpressStoreLike | MigrateFromOptions;
}

/** The options after validation, with every default applied. */
export interface ResolvedOptions {
  secrets: Secret[];
  maxAge: number;
  absoluteTimeout: number | undefined;
  rolling: boolean;
  touchAfter: number;
  maxValueBytes: number;
  onEvent: ((event: SessionEvent) => void) | undefined;
}

const MIN_SECRET_LENGTH = 32;
let warnedWeakSecret = false;

export function resolveOptions(options: SessionManagerOptions<SessionStore>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(
      `options must be an object such as { secret: '…' } (got ${String(options)})`,
    );
  }
  const maxAge = lifetime('maxAge', options.maxAge, 86_400_000);
  const absoluteTimeout =
    options.absoluteTimeout === undefined
      ? undefined
      : lifetime('absoluteTimeout', options.absoluteTimeout, 0);
  const rolling = options.rolling ?? true;
  if (typeof rolling !== 'boolean') {
    throw new InvalidOptionError(`rolling must be a boolean (got ${JSON.stringify(rolling)})`);
  }
  const touchAfter =
    options.touchAfter === undefined
      ? Math.min(60_000, maxAge / 10)
      : nonNegative('touchAfter', options.touchAfter);
  const maxValueBytes =
    options.maxValueBytes === undefined
      ? 262_144
      : duration('maxValueBytes', options.maxValueBytes, 0);
  const onEvent = options.onEvent;
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new InvalidOptionError(`onEvent must be a function (got ${typeof onEvent})`);
  }
  return {
    secrets: resolveSecrets(options.secret),
    maxAge,
    absoluteTimeout,
    rolling,
    touchAfter,
    maxValueBytes,
    onEvent,
  };
}

function resolveSecrets(secret: unknown): Secret[] {
  const list = Array.isArray(secret) ? [...secret] : [secret];
  if (list.length === 0) {
    throw new InvalidOptionError(
      'secret must not be an empty array; give at least one secret string',
    );
  }
  for (const item of list) {
    if (!(typeof item === 'string' || Buffer.isBuffer(item)) || item.length === 0) {
      throw new InvalidOptionError(
        `secret is required: a non-empty string or Buffer, or an array of them (got ${describe(item)}); generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
      );
    }
    if (item.length < MIN_SECRET_LENGTH) {
      if (process.env.NODE_ENV === 'production') {
        throw new InvalidOptionError(
          `secret must have at least ${MIN_SECRET_LENGTH} characters in production (got ${item.length})`,
        );
      }
      if (!warnedWeakSecret) {
        warnedWeakSecret = true;
        process.emitWarning(
          `session-store-js: a secret shorter than ${MIN_SECRET_LENGTH} characters is refused under NODE_ENV=production`,
          { code: 'SESSION_STORE_WEAK_SECRET' },
        );
      }
    }
  }
  return list as Secret[];
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return 'an empty string';
  return typeof value;
}

function duration(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(
      `${name} must be a positive number (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** Ten years: far beyond any browser's cookie cap (400 days), far inside the Date range. */
const MAX_LIFETIME_MS = 315_360_000_000;

function lifetime(name: string, value: unknown, fallback: number): number {
  const ms = duration(name, value, fallback);
  if (ms > MAX_LIFETIME_MS) {
    throw new InvalidOptionError(
      `${name} must be at most ${MAX_LIFETIME_MS} ms (ten years) (got ${ms})`,
    );
  }
  return ms;
}

function nonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(
      `${name} must be a number of milliseconds, 0 or more (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}
