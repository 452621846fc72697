import type { IncomingMessage } from 'node:http';
import { findCookieValues } from '../cookie.js';
import { InvalidOptionError } from '../errors.js';
import { Signer } from '../signer.js';
import { isSessionStore } from '../stores/create-store.js';
import { MemoryStore as OurMemoryStore } from '../stores/memory/memory-store.js';
import type { SessionStore } from '../types.js';
import type { CookieData } from './cookie-object.js';
import type { SessionStoreLike } from './session-object.js';
import { Store } from './store-base.js';
import { adapterClass } from './to-express-store.js';
import type { ExpressSessionStore } from './to-express-store-options.js';

/**
 * The drop-in's options, resolved once as express-session resolves them, and the per-request
 * helpers that depend only on them: reading the signed cookie, telling HTTPS apart.
 */

/** A request as the drop-in sees it (Node's, plus what Express and cookie-parser add). */
export type DropInRequest = IncomingMessage & {
  session?: unknown;
  sessionID?: string | undefined;
  sessionStore?: unknown;
  secret?: string;
  secure?: boolean;
  originalUrl?: string;
  signedCookies?: Record<string, unknown>;
  cookies?: Record<string, unknown>;
};

/** An express-session store: `get`, `set`, `destroy`, optionally `touch` and the `Store` methods. */
export interface DropInStore extends Partial<Pick<SessionStoreLike, 'regenerate'>> {
  get(sid: string, callback: (error: unknown, session?: object | null) => void): void;
  set(sid: string, session: object, callback?: (error?: unknown) => void): void;
  destroy(sid: string, callback?: (error?: unknown) => void): void;
  touch?(sid: string, session: object, callback?: (error?: unknown) => void): void;
  generate?: (req: object) => void;
}

/** Options of the drop-in `session(options)`: express-session's, with its defaults. */
export interface SessionOptions {
  /**
   * Signs the session id cookie. An array: the first signs, all verify (rotation). Without it,
   * `req.secret` (set by cookie-parser) is used; with neither, requests fail with a 500.
   */
  secret?: string | readonly string[];
  /** The session id cookie's name. @default 'connect.sid' */
  name?: string;
  /** Old name of `name` (used when `name` is absent). */
  key?: string;
  /**
   * Where sessions live: an express-session store (connect-redis, …) or a session-store-js
   * store (wrapped so writes are key-level). @default a new `session.MemoryStore()`
   */
  store?: DropInStore | SessionStore;
  /** Cookie attributes, or a function of the request returning them. @default `{ path: '/', httpOnly: true, maxAge: null }` */
  cookie?: CookieData | ((req: DropInRequest) => CookieData);
  /** Makes a new session id. @default 24 random bytes, base64url (express-session's `uid-safe(24)`) */
  genid?: (req: DropInRequest) => string;
  /** Save sessions that were not modified. @default true (with a deprecation warning when unset) */
  resave?: boolean;
  /** Save new sessions that were not modified. @default true (with a deprecation warning when unset) */
  saveUninitialized?: boolean;
  /** Send the cookie (and reset its expiry) on every response. @default false */
  rolling?: boolean;
  /** Trust `X-Forwarded-Proto` (`true`), never (`false`), or Express's `trust proxy` (unset). @default undefined */
  proxy?: boolean;
  /** What `req.session = null` (or `delete req.session`) does: `'keep'` or `'destroy'`. @default 'keep' */
  unset?: 'destroy' | 'keep';
}

export interface ResolvedSessionOptions {
  name: string;
  store: DropInStore;
  cookie: CookieData | ((req: DropInRequest) => CookieData);
  genid: (req: DropInRequest) => string;
  resave: boolean;
  saveUninitialized: boolean;
  rolling: boolean;
  proxy: boolean | undefined;
  unsetDestroy: boolean;
  /** `undefined` when no `secret` was given (then `req.secret` is used per request). */
  signer: Signer | undefined;
}

const warned = new Set<string>();

/** express-session's deprecation notices, as process warnings, once per process. */
function deprecate(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'DeprecationWarning', code });
}

/** `session.MemoryStore` of the drop-in: express-session's API over our MemoryStore. */
const MemoryStoreBase = adapterClass(Store) as unknown as new (
  store: OurMemoryStore,
) => ExpressSessionStore<OurMemoryStore>;

/**
 * express-session's in-process store, backed by session-store-js's MemoryStore: expired sessions
 * are removed by an expiry index instead of lingering until read, and `set` is key-level.
 */
export class MemoryStore extends MemoryStoreBase {
  constructor(options?: ConstructorParameters<typeof OurMemoryStore>[0]) {
    super(new OurMemoryStore(options));
  }
}

/** Resolves `options` as express-session does; throws `TypeError`s with its messages. */
export function resolveSessionOptions(
  options: SessionOptions | undefined,
  defaultId: () => string,
): ResolvedSessionOptions {
  const opts = options ?? {};
  const genid = opts.genid ?? defaultId;
  if (typeof genid !== 'function') throw new TypeError('genid option must be a function');
  let resave = opts.resave;
  if (resave === undefined) {
    deprecate('SESSION_STORE_RESAVE', 'undefined resave option; provide resave option');
    resave = true;
  }
  let saveUninitialized = opts.saveUninitialized;
  if (saveUninitialized === undefined) {
    deprecate(
      'SESSION_STORE_SAVE_UNINITIALIZED',
      'undefined saveUninitialized option; provide saveUninitialized option',
    );
    saveUninitialized = true;
  }
  if (opts.unset && opts.unset !== 'destroy' && opts.unset !== 'keep') {
    throw new TypeError('unset option must be "destroy" or "keep"');
  }
  const secret = opts.secret;
  if (Array.isArray(secret) && secret.length === 0) {
    throw new TypeError('secret option array must contain one or more strings');
  }
  if (!secret) deprecate('SESSION_STORE_REQ_SECRET', 'req.secret; provide secret option');
  const secrets = secret ? (Array.isArray(secret) ? secret : [secret as string]) : undefined;
  if (secrets?.some((s) => (typeof s !== 'string' && !Buffer.isBuffer(s)) || s.length === 0)) {
    throw new InvalidOptionError('secret must be a non-empty string or an array of them');
  }
  let store = (opts.store ?? new MemoryStore()) as DropInStore | SessionStore;
  if (isSessionStore(store)) {
    store = new (adapterClass(Store))(store) as unknown as DropInStore;
  }
  const es = store as DropInStore;
  for (const method of ['get', 'set', 'destroy'] as const) {
    if (typeof es[method] !== 'function') {
      throw new InvalidOptionError(
        `store must have a ${method} method (an express-session store or a session-store-js store)`,
      );
    }
  }
  return {
    name: opts.name || opts.key || 'connect.sid',
    store: es,
    cookie: opts.cookie ?? {},
    genid,
    resave,
    saveUninitialized,
    rolling: Boolean(opts.rolling),
    proxy: opts.proxy,
    unsetDestroy: opts.unset === 'destroy',
    signer: secrets ? new Signer(secrets) : undefined,
  };
}

/** How many same-named cookies are tried (a stale one on a longer path must not hide ours). */
const MAX_CANDIDATES = 8;

/**
 * The session id of a correctly signed cookie named `name`, from the `Cookie` header, else
 * (as express-session still does) from cookie-parser's `req.signedCookies` / `req.cookies`.
 * `signed` is the cookie's signed value when the first secret made it, so the same value can be
 * sent back without signing the id again.
 */
export function readSessionId(
  req: DropInRequest,
  name: string,
  signer: Signer,
): { id: string; signed?: string } | undefined {
  const header = req.headers.cookie;
  if (header) {
    for (const value of findCookieValues(header, name, MAX_CANDIDATES)) {
      const verified = signer.unsign(value);
      if (verified)
        return verified.renew ? { id: verified.id } : { id: verified.id, signed: value };
    }
  }
  const signed = req.signedCookies?.[name];
  if (typeof signed === 'string' && signed) return { id: signed };
  const raw = req.cookies?.[name];
  if (typeof raw !== 'string' || !raw.startsWith('s:')) return undefined;
  const verified = signer.unsign(raw);
  return verified ? { id: verified.id } : undefined;
}

/** express-session's rule for "this request came over HTTPS". */
export function isSecureRequest(req: DropInRequest, trustProxy: boolean | undefined): boolean {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted) return true;
  if (trustProxy === false) return false;
  if (trustProxy !== true) return req.secure === true;
  const header = req.headers['x-forwarded-proto'];
  const value = (Array.isArray(header) ? header[0] : header) ?? '';
  const comma = value.indexOf(',');
  return (comma === -1 ? value : value.slice(0, comma)).trim().toLowerCase() === 'https';
}

/** The path of the URL the request was made for (Express's `originalUrl` when mounted). */
export function originalPath(req: DropInRequest): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  return path || '/';
}
