import { utcString } from './date-text.js';

/**
 * `req.session.cookie` of the drop-in: express-session's `Cookie`, with the same own properties
 * (`path`, `_expires`, `originalMaxAge`, `httpOnly` and whatever options were given), the same
 * accessors (`expires`, `maxAge`, `data`) and the same JSON, so code and stores written against
 * express-session see no difference.
 */

/** The attributes express-session's cookie option accepts. */
export interface CookieData {
  /** Milliseconds until the cookie expires; `null` (the default) makes a browser-session cookie. */
  maxAge?: number | null;
  /** An absolute expiry. Prefer `maxAge`. */
  expires?: Date | null;
  /** The `maxAge` the session started with; kept across loads. */
  originalMaxAge?: number | null;
  /** @default '/' */
  path?: string;
  /** @default true */
  httpOnly?: boolean;
  /** `true`, `false` or `'auto'` (secure when the request is HTTPS). @default false (unset) */
  secure?: boolean | 'auto';
  domain?: string;
  /** `true` (= strict), `'lax'`, `'strict'`, `'none'`, `false` or `'auto'` (none over HTTPS, else lax). */
  sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto';
  partitioned?: boolean;
  priority?: 'low' | 'medium' | 'high';
}

/** What `cookie.data` and `toJSON()` give: the attributes, `expires` absolute. */
export interface CookieJson {
  originalMaxAge: number | null | undefined;
  partitioned: boolean | undefined;
  priority: string | undefined;
  expires: Date | null | undefined;
  secure: boolean | 'auto' | undefined;
  httpOnly: boolean | undefined;
  domain: string | undefined;
  path: string | undefined;
  sameSite: CookieData['sameSite'];
}

/** express-session's `Cookie`. */
export class Cookie {
  declare path: string;
  declare httpOnly: boolean;
  declare originalMaxAge: number | null;
  declare _expires: Date | null | undefined;
  declare secure?: boolean | 'auto';
  declare domain?: string;
  declare sameSite?: CookieData['sameSite'];
  declare partitioned?: boolean;
  declare priority?: 'low' | 'medium' | 'high';
  [attribute: string]: unknown;

  constructor(options?: CookieData | Record<string, unknown>) {
    this.path = '/';
    this.maxAge = null;
    this.httpOnly = true;
    if (options) {
      if (typeof options !== 'object') throw new TypeError('argument options must be a object');
      for (const key in options) {
        // `data` is a getter here; every other option becomes a property (`maxAge` and
        // `expires` through their setters).
        if (key !== 'data') this[key] = (options as Record<string, unknown>)[key];
      }
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null) {
      this.originalMaxAge = this.maxAge;
    }
  }

  /** When the cookie expires; `null` for a browser-session cookie. Setting it resets `originalMaxAge`. */
  get expires(): Date | null | undefined {
    return this._expires;
  }

  set expires(date: Date | null | undefined) {
    this._expires = date;
    this.originalMaxAge = this.maxAge;
  }

  /** Milliseconds left; setting it moves `expires` to now + ms (`null` makes a session cookie). */
  get maxAge(): number | null {
    const expires = this.expires;
    return expires instanceof Date ? expires.valueOf() - Date.now() : (expires ?? null);
  }

  set maxAge(ms: number | Date | null | undefined) {
    if (ms && typeof ms !== 'number' && !(ms instanceof Date)) {
      throw new TypeError('maxAge must be a number or Date');
    }
    this.expires = typeof ms === 'number' ? new Date(Date.now() + ms) : (ms ?? null);
  }

  /** The attributes, as `Set-Cookie` and the store get them. */
  get data(): CookieJson {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this._expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  /** `name=value` with this cookie's attributes, as a `Set-Cookie` value. */
  serialize(name: string, value: string): string {
    return serializeCookie(name, value, this.data);
  }

  toJSON(): CookieJson {
    return this.data;
  }
}

/** RFC 6265 §4.1.1 token (cookie name) and cookie-octet-free checks for the attributes. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE = /^[\u0020-\u003A\u003C-\u007E]*$/;
/** The last name and path found valid: every response of an app sends the same ones. */
const checked = { name: '', path: '' };

/**
 * A `Set-Cookie` value in express-session's attribute order (`Domain`, `Path`, `Expires`,
 * `HttpOnly`, `Secure`, `Partitioned`, `Priority`, `SameSite`). Throws a `TypeError` naming the
 * attribute when one could smuggle a `;` or a control character into the header.
 */
export function serializeCookie(name: string, value: string, data: CookieJson): string {
  if (name !== checked.name) {
    if (!TOKEN.test(name)) throw new TypeError(`cookie name must be a token, got ${name}`);
    checked.name = name;
  }
  let out = `${name}=${encodeURIComponent(value)}`;
  if (data.domain !== undefined && data.domain !== null) {
    if (!ATTRIBUTE.test(data.domain)) throw new TypeError('cookie.domain is invalid');
    out += `; Domain=${data.domain}`;
  }
  if (data.path) {
    if (data.path !== checked.path) {
      if (!ATTRIBUTE.test(data.path)) throw new TypeError('cookie.path is invalid');
      checked.path = data.path;
    }
    out += `; Path=${data.path}`;
  }
  if (data.expires) {
    const expires = data.expires;
    if (!(expires instanceof Date) || !Number.isFinite(expires.getTime())) {
      throw new TypeError('cookie.expires is invalid');
    }
    out += `; Expires=${utcString(expires)}`;
  }
  if (data.httpOnly) out += '; HttpOnly';
  if (data.secure) out += '; Secure';
  if (data.partitioned) out += '; Partitioned';
  if (data.priority) {
    const priority = String(data.priority).toLowerCase();
    if (priority !== 'low' && priority !== 'medium' && priority !== 'high') {
      throw new TypeError(`cookie.priority must be 'low', 'medium' or 'high', got ${priority}`);
    }
    out += `; Priority=${priority[0]!.toUpperCase()}${priority.slice(1)}`;
  }
  if (data.sameSite) {
    const sameSite = data.sameSite === true ? 'strict' : String(data.sameSite).toLowerCase();
    if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
      throw new TypeError(`cookie.sameSite must be 'lax', 'strict' or 'none', got ${sameSite}`);
    }
    out += `; SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`;
  }
  return out;
}
