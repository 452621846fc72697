import type { CookieOptions } from './cookie.js';
import { emitLibraryWarning } from './errors.js';
import type { ExpressStoreLike } from './legacy-call.js';
import type { MigrateFromOptions } from './legacy-import.js';
import type { SessionEvent } from './middleware.js';
import type { Secret } from './signer.js';
import type { BuiltInStoreOptions } from './stores/create-store.js';
import type { SessionStore } from './types.js';
import {
  boolean,
  describeValue,
  lifetimeMs,
  nonNegativeMs,
  oneOf,
  optionalFunction,
  positiveInteger,
  refuse,
} from './validate.js';

/** Options of `new SessionManager(options)`. */
export interface SessionManagerOptions<S extends SessionStore = SessionStore> {
  /**
   * Which built-in store to create: `'memory'`, `'file'`, `'redis'` or `'postgres'`. Ignored
   * when `store` is given.
   * @default 'memory'
   */
  storeType?: 'memory' | 'file' | 'redis' | 'postgres';
  /**
   * Options of the built-in store chosen by `storeType`. Its lifetime bound (`maxAge` / `ttl`)
   * defaults to the manager's `maxAge`.
   * @default {}
   */
  storeOptions?: BuiltInStoreOptions;
  /**
   * A store instance (any implementation of `SessionStore`); takes precedence over `storeType`.
   * @default undefined (the manager builds the store named by `storeType`)
   */
  store?: S;
  /**
   * Signs the cookie: a string, a Buffer, or an array of them — the first signs, every one
   * verifies, so secrets can be rotated without logging anyone out. Required. Under
   * `NODE_ENV=production` a secret shorter than 32 characters is refused; elsewhere it warns.
   */
  secret: Secret | readonly Secret[];
  /**
   * Name of the session cookie: a generic name, as OWASP advises, so it does not reveal the
   * framework.
   * @default 'sid'
   */
  cookieName?: string;
  /**
   * Idle lifetime in ms: a session not renewed (by `set`, `touch` or rolling) for this long
   * expires. Also the cookie's `Expires`. At most ten years.
   * @default 86400000 (24 hours)
   */
  maxAge?: number;
  /**
   * Absolute lifetime cap in ms from the session's creation, whatever the activity (OWASP's
   * "absolute timeout"); `regenerate` starts a new lifetime.
   * @default undefined (no cap)
   */
  absoluteTimeout?: number;
  /**
   * Renew the idle lifetime of a session when a request merely loads it, not only on
   * `set`/`touch`, so active readers stay logged in. Throttled by `touchAfter`.
   * @default true
   */
  rolling?: boolean;
  /**
   * With `rolling`, a loaded session is renewed (one store `touch` and a fresh cookie) only when
   * that extends its expiry by at least this many ms — at most one store write per session per
   * `touchAfter` for read-only traffic.
   * @default min(60000, maxAge / 10)
   */
  touchAfter?: number;
  /**
   * How a `set` renews the idle lifetime. `'touchAfter'`: only a write that extends the expiry
   * by at least `touchAfter` moves it and re-sends the cookie, like a rolling read; the others
   * write the data and send no `Set-Cookie` (the costliest header of a response), and the
   * session's idle timeout then runs at most `touchAfter` short of `maxAge` since the last
   * request (the store's expiry and the browser's cookie always agree). `'always'`: every write
   * moves the expiry to `now + maxAge` and re-sends the cookie.
   * @default 'touchAfter'
   */
  renewOnWrite?: 'always' | 'touchAfter';
  /**
   * Attributes of the session cookie.
   * @default { httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/' }
   */
  cookie?: CookieOptions;
  /**
   * Largest value `set` accepts, in bytes of JSON: an integer from 1 to 2^30.
   * @default 262144 (256 KiB)
   */
  maxValueBytes?: number;
  /**
   * Receives detection events — `invalid-signature`, `unknown-session`, `duplicate-cookie` —
   * to count or alert on (guessing, tampering, cookie tossing). Events carry no id or cookie
   * value. Called synchronously; errors it throws are ignored.
   * @default undefined (no events)
   */
  onEvent?: (event: SessionEvent) => void;
  /**
   * Most live sessions one user may have (see `regenerate({ user })`); a login beyond it is
   * handled by `whenUserFull`. Needs a store with the user index. An integer, 1 or more.
   * @default undefined (no limit)
   */
  maxSessionsPerUser?: number;
  /**
   * A login of a user at `maxSessionsPerUser`: `'evict-oldest'` destroys that user's session
   * expiring soonest (the one idle the longest); `'reject'` refuses the login with
   * `StoreFullError` (code `STORE_FULL`).
   * @default 'evict-oldest'
   */
  whenUserFull?: 'evict-oldest' | 'reject';
  /**
   * An express-session store to move sessions from, so switching from express-session logs
   * nobody out (keep its `secret` and use `cookieName: 'connect.sid'`). A correctly signed id the
   * store lacks is read once from this store, created here (insert-if-absent) and removed there
   * in the same step; a failure of this store answers 503, never "logged out". Give the store, or
   * `{ store, timeout, ttl, onError }`.
   * @default undefined (no migration)
   */
  migrateFrom?: ExpressStoreLike | MigrateFromOptions;
}

/** The defaults of {@link SessionManagerOptions}: the one place each is written. */
export const MANAGER_DEFAULTS = {
  cookieName: 'sid',
  maxAge: 86_400_000,
  rolling: true,
  renewOnWrite: 'touchAfter',
  maxValueBytes: 262_144,
} as const;

/** `touchAfter` when none is given: a tenth of the idle lifetime, at most one minute. */
export function defaultTouchAfter(maxAge: number): number {
  return Math.min(60_000, maxAge / 10);
}

/** The options after validation, with every default applied. */
export interface ResolvedOptions {
  secrets: Secret[];
  cookieName: string;
  maxAge: number;
  absoluteTimeout: number | undefined;
  rolling: boolean;
  touchAfter: number;
  /** Writes renew only in `touchAfter` steps (`renewOnWrite: 'touchAfter'`). */
  throttleWrites: boolean;
  maxValueBytes: number;
  onEvent: ((event: SessionEvent) => void) | undefined;
}

const MIN_SECRET_LENGTH = 32;
/** Larger than any session a store should hold; a bigger limit is a unit mistake. */
const MAX_VALUE_BYTES = 2 ** 30;
let warnedWeakSecret = false;

export function resolveOptions(options: SessionManagerOptions<SessionStore>): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    refuse('options', "an object such as { secret: '…' }", options);
  }
  const maxAge = lifetimeMs('maxAge', options.maxAge, MANAGER_DEFAULTS.maxAge);
  return {
    secrets: resolveSecrets(options.secret),
    cookieName: options.cookieName ?? MANAGER_DEFAULTS.cookieName,
    maxAge,
    absoluteTimeout: lifetimeMs('absoluteTimeout', options.absoluteTimeout, undefined),
    rolling: boolean('rolling', options.rolling, MANAGER_DEFAULTS.rolling),
    touchAfter: nonNegativeMs('touchAfter', options.touchAfter, defaultTouchAfter(maxAge)),
    throttleWrites:
      oneOf('renewOnWrite', options.renewOnWrite, MANAGER_DEFAULTS.renewOnWrite, [
        'always',
        'touchAfter',
      ] as const) === 'touchAfter',
    maxValueBytes: positiveInteger(
      'maxValueBytes',
      options.maxValueBytes,
      MANAGER_DEFAULTS.maxValueBytes,
      MAX_VALUE_BYTES,
      'bytes',
    ),
    onEvent: optionalFunction('onEvent', options.onEvent),
  };
}

const GENERATE_SECRET =
  "generate one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"";

function resolveSecrets(secret: unknown): Secret[] {
  const list = Array.isArray(secret) ? [...secret] : [secret];
  if (list.length === 0) {
    refuse('secret', `at least one secret string; ${GENERATE_SECRET}`, secret, 'an empty array');
  }
  for (const item of list) {
    if (!(typeof item === 'string' || Buffer.isBuffer(item)) || item.length === 0) {
      // Never echo a secret: only its kind.
      const shown = item === '' ? 'an empty string' : describeKind(item);
      refuse(
        'secret',
        `a non-empty string or Buffer, or an array of them (${GENERATE_SECRET})`,
        item,
        shown,
      );
    }
    if (item.length < MIN_SECRET_LENGTH) {
      if (process.env.NODE_ENV === 'production') {
        refuse(
          'secret',
          `at least ${MIN_SECRET_LENGTH} characters in production`,
          item,
          `${item.length}`,
        );
      }
      if (!warnedWeakSecret) {
        warnedWeakSecret = true;
        emitLibraryWarning(
          `a secret shorter than ${MIN_SECRET_LENGTH} characters is refused under NODE_ENV=production`,
          'SESSION_STORE_WEAK_SECRET',
        );
      }
    }
  }
  return list as Secret[];
}

/** What a refused secret was, without its content. */
function describeKind(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Buffer.isBuffer(value)) return 'an empty Buffer';
  return typeof value === 'object' ? describeValue(value) : `a ${typeof value}`;
}
