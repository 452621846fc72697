import { InvalidOptionError } from './errors.js';

/** Cookie attributes of the session cookie. */
export interface CookieOptions {
  /**
   * `true` always sends `Secure`; `false` never; `'auto'` sends it when `NODE_ENV` is
   * `production` or the request came over HTTPS (`req.secure`, which honours Express's
   * `trust proxy`). Default: `'auto'`.
   */
  secure?: boolean | 'auto';
  /** Default: `true`. The cookie is never readable from page scripts. */
  httpOnly?: boolean;
  /** `'lax' | 'strict' | 'none' | false` (false omits the attribute). Default: `'lax'`. */
  sameSite?: 'lax' | 'strict' | 'none' | false;
  /** Default: none (host-only cookie, which OWASP recommends). */
  domain?: string;
  /** Default: `'/'`. */
  path?: string;
  /** CHIPS `Partitioned`. Default: `false`. */
  partitioned?: boolean;
  /** `'low' | 'medium' | 'high'`. Default: none. */
  priority?: 'low' | 'medium' | 'high';
}

/** RFC 6265 §4.1.1: cookie-name = token (RFC 7230 tchar). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 §4.1.1: path-value = any CHAR except CTLs or ";". */
const PATH_VALUE = /^[\u0020-\u003A\u003C-\u007E]*$/;
/** RFC 1034 labels, with an optional leading dot as RFC 6265 §5.2.3 allows. */
const DOMAIN_VALUE =
  /^\.?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** RFC 6265bis §5.6: browsers ignore a Path or Domain attribute over 1024 octets. */
const MAX_ATTRIBUTE_LENGTH = 1024;

const EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';

/** A validated cookie definition that serializes the session cookie quickly. */
export class SessionCookie {
  readonly name: string;
  readonly secure: boolean | 'auto';
  /** The attributes that never change, computed once: `; Path=/; HttpOnly; SameSite=Lax`. */
  readonly #fixed: string;
  /** The last `Expires` date and the second (of the epoch) it is for: one cookie date per second. */
  #expiresSecond = Number.NaN;
  #expires = '';

  constructor(name: unknown, options: CookieOptions = {}) {
    if (typeof name !== 'string' || !TOKEN.test(name)) {
      throw new InvalidOptionError(
        `cookieName must be a cookie token: letters, digits and !#$%&'*+-.^_\`|~, got ${JSON.stringify(name)}`,
      );
    }
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        `cookie must be an object of cookie attributes, got ${String(options)}`,
      );
    }
    const {
      secure = 'auto',
      httpOnly = true,
      sameSite = 'lax',
      domain,
      path = '/',
      partitioned = false,
      priority,
    } = options;
    if (secure !== true && secure !== false && secure !== 'auto') {
      throw new InvalidOptionError(
        `cookie.secure must be true, false or 'auto', got ${JSON.stringify(secure)}`,
      );
    }
    if (typeof httpOnly !== 'boolean') {
      throw new InvalidOptionError(
        `cookie.httpOnly must be a boolean, got ${JSON.stringify(httpOnly)}`,
      );
    }
    if (sameSite !== false && sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
      throw new InvalidOptionError(
        `cookie.sameSite must be 'lax', 'strict', 'none' or false, got ${JSON.stringify(sameSite)}`,
      );
    }
    if (sameSite === 'none' && secure === false) {
      throw new InvalidOptionError(
        `cookie.sameSite 'none' requires cookie.secure true or 'auto' (browsers drop SameSite=None without Secure)`,
      );
    }
    if (
      domain !== undefined &&
      (typeof domain !== 'string' ||
        domain.length > MAX_ATTRIBUTE_LENGTH ||
        !DOMAIN_VALUE.test(domain))
    ) {
      throw new InvalidOptionError(
        `cookie.domain must be a host name such as 'example.com', got ${JSON.stringify(domain)}`,
      );
    }
    if (
      typeof path !== 'string' ||
      !path.startsWith('/') ||
      path.length > MAX_ATTRIBUTE_LENGTH ||
      !PATH_VALUE.test(path)
    ) {
      throw new InvalidOptionError(
        `cookie.path must start with '/' and contain no ';' or control characters, got ${JSON.stringify(path)}`,
      );
    }
    if (typeof partitioned !== 'boolean') {
      throw new InvalidOptionError(
        `cookie.partitioned must be a boolean, got ${JSON.stringify(partitioned)}`,
      );
    }
    if (
      priority !== undefined &&
      priority !== 'low' &&
      priority !== 'medium' &&
      priority !== 'high'
    ) {
      throw new InvalidOptionError(
        `cookie.priority must be 'low', 'medium' or 'high', got ${JSON.stringify(priority)}`,
      );
    }
    // RFC 6265bis §4.1.3: the prefixes are only honoured when their rules are met.
    if (name.startsWith('__Host-') && (secure === false || domain !== undefined || path !== '/')) {
      throw new InvalidOptionError(
        `a __Host- cookie needs cookie.secure true or 'auto', no cookie.domain and cookie.path '/'`,
      );
    }
    if (name.startsWith('__Secure-') && secure === false) {
      throw new InvalidOptionError(`a __Secure- cookie needs cookie.secure true or 'auto'`);
    }
    this.name = name;
    // Prefixed names and SameSite=None are useless without Secure, so those force it.
    this.secure =
      name.startsWith('__Host-') || name.startsWith('__Secure-') || sameSite === 'none'
        ? true
        : secure;
    let fixed = `; Path=${path}`;
    if (domain !== undefined) fixed += `; Domain=${domain}`;
    if (httpOnly) fixed += '; HttpOnly';
    if (sameSite)
      fixed += `; SameSite=${sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None'}`;
    if (partitioned) fixed += '; Partitioned';
    if (priority) fixed += `; Priority=${priority[0]!.toUpperCase()}${priority.slice(1)}`;
    this.#fixed = fixed;
  }

  /** `Set-Cookie` value carrying `signedValue` until `expiresAt` (ms since epoch). */
  serialize(signedValue: string, expiresAt: number, secure: boolean): string {
    // The date has one-second resolution, so a busy server formats it once a second.
    const second = Math.floor(expiresAt / 1000);
    if (second !== this.#expiresSecond) {
      this.#expires = new Date(expiresAt).toUTCString();
      this.#expiresSecond = second;
    }
    const expires = this.#expires;
    return `${this.name}=${encodeURIComponent(signedValue)}${this.#fixed}; Expires=${expires}${secure ? '; Secure' : ''}`;
  }

  /** `Set-Cookie` value that makes the browser drop the cookie. */
  serializeCleared(secure: boolean): string {
    return `${this.name}=${this.#fixed}; Expires=${EPOCH}${secure ? '; Secure' : ''}`;
  }
}

/**
 * The values of every cookie named exactly `name` in a `Cookie` header, in header order, at most
 * `limit` of them. Follows jshttp/cookie's parse rules: pairs split on `;`, only SP and HTAB are
 * trimmed (never Unicode spaces, so `\u2000__Host-sid` is not `__Host-sid`), names are compared
 * byte for byte and never decoded, a quoted value is unquoted, a value is URL-decoded when it has
 * a `%` and kept raw when the escape is malformed. Linear in the header length; never throws.
 */
export function findCookieValues(header: string, name: string, limit: number): string[] {
  const found: string[] = [];
  if (!header.includes(name)) return found;
  const length = header.length;
  let start = 0;
  // The next '=' at or after `start`; kept across pairs so runs of pairs without '=' never
  // rescan the rest of the header (which would be quadratic).
  let eq = -1;
  while (start < length && found.length < limit) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    if (eq < start) {
      eq = header.indexOf('=', start);
      if (eq === -1) break;
    }
    if (eq < end) {
      let nameStart = start;
      let nameEnd = eq;
      while (nameStart < nameEnd && isSpace(header.charCodeAt(nameStart))) nameStart++;
      while (nameEnd > nameStart && isSpace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (nameEnd - nameStart === name.length && header.startsWith(name, nameStart)) {
        let valueStart = eq + 1;
        let valueEnd = end;
        while (valueStart < valueEnd && isSpace(header.charCodeAt(valueStart))) valueStart++;
        while (valueEnd > valueStart && isSpace(header.charCodeAt(valueEnd - 1))) valueEnd--;
        if (
          valueEnd - valueStart >= 2 &&
          header.charCodeAt(valueStart) === 34 &&
          header.charCodeAt(valueEnd - 1) === 34
        ) {
          valueStart++;
          valueEnd--;
        }
        found.push(decode(header.slice(valueStart, valueEnd)));
      }
    }
    start = end + 1;
  }
  return found;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function decode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
