/**
 * Real HTTP for the tests: start an app on port 0, talk to it with Node's `fetch` and a tiny cookie
 * jar that carries `Set-Cookie` between requests, parse `Set-Cookie` lines, and send raw requests
 * (headers `fetch` refuses to send, or that must reach Node's HTTP parser byte for byte).
 */
import http, { type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import type { Express } from 'express';

/** A running server. */
export interface Listening {
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  close(): Promise<void>;
}

/** Anything with Express's `listen(port, callback)`. */
interface Listenable {
  listen(port: number, callback: () => void): Server;
}

/**
 * Starts `app` on a free port: `app.listen(0)` for an Express app, or `http.createServer` when
 * server options (such as `maxHeaderSize`) are given.
 */
export async function listen(
  app: Listenable | RequestListener,
  serverOptions?: http.ServerOptions,
): Promise<Listening> {
  const server = await new Promise<Server>((resolve, reject) => {
    let s: Server;
    if (serverOptions || typeof (app as Listenable).listen !== 'function') {
      s = http.createServer(serverOptions ?? {}, app as RequestListener);
      s.listen(0, '127.0.0.1', () => resolve(s));
    } else {
      s = (app as Listenable).listen(0, () => resolve(s));
    }
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** One parsed `Set-Cookie` line. Attribute names are lower-cased; flags map to `true`. */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Map<string, string | true>;
  raw: string;
}

export function parseSetCookie(line: string): SetCookie {
  const [pair = '', ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const attributes = new Map<string, string | true>();
  for (const part of rest) {
    const i = part.indexOf('=');
    if (i === -1) attributes.set(part.trim().toLowerCase(), true);
    else attributes.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
  }
  return { name, value, attributes, raw: line };
}

/** A response, read completely. */
export interface Reply {
  status: number;
  body: string;
  headers: Headers;
  /** Every `Set-Cookie` line, parsed. */
  cookies: SetCookie[];
  /** The `Set-Cookie` lines of one name. */
  cookiesNamed(name: string): SetCookie[];
  json<T = unknown>(): T;
}

function toReply(status: number, body: string, headers: Headers): Reply {
  const cookies = headers.getSetCookie().map(parseSetCookie);
  return {
    status,
    body,
    headers,
    cookies,
    cookiesNamed: (name) => cookies.filter((c) => c.name === name),
    json: <T>() => JSON.parse(body) as T,
  };
}

/** The time a `Set-Cookie` expires at (ms), or `undefined` for a browser-session cookie. */
export function expiresOf(cookie: SetCookie): number | undefined {
  const expires = cookie.attributes.get('expires');
  return typeof expires === 'string' ? Date.parse(expires) : undefined;
}

/**
 * A browser in miniature: keeps the cookies a server set (and drops the ones it expired) and
 * sends them back. Cookie values are kept exactly as the server wrote them.
 */
export class Client {
  readonly base: string;
  readonly jar: Map<string, string>;

  /** `jar` carries cookies over from another client (a browser that outlives a server restart). */
  constructor(base: string, jar?: Map<string, string>) {
    this.base = base;
    this.jar = jar ?? new Map();
  }

  /** The `Cookie` header this client would send, or `undefined` when it holds none. */
  cookieHeader(): string | undefined {
    if (this.jar.size === 0) return undefined;
    return [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader();
    if (cookie !== undefined && !headers.has('cookie')) headers.set('cookie', cookie);
    const response = await fetch(this.base + path, { redirect: 'manual', ...init, headers });
    const reply = toReply(response.status, await response.text(), response.headers);
    for (const c of reply.cookies) {
      const expires = expiresOf(c);
      if (c.value === '' || (expires !== undefined && expires <= Date.now()))
        this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return reply;
  }

  get(path: string, headers?: Record<string, string>): Promise<Reply> {
    return this.request(path, headers ? { headers } : {});
  }
}

/** One request with exactly the headers given (no jar). */
export async function fetchReply(
  url: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(url, { headers, redirect: 'manual' });
  return toReply(response.status, await response.text(), response.headers);
}

/** A response read from a raw socket. */
export interface RawReply {
  status: number;
  head: string;
  body: string;
  /** `Set-Cookie` lines. */
  setCookies: string[];
}

/**
 * Sends `GET path` with the given header lines written byte for byte (latin1), with
 * `Connection: close`, and reads the whole response. For inputs `fetch` refuses to send.
 */
export function rawGet(port: number, path: string, headerLines: string[]): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      // The server may reset a connection whose request it refused; keep what arrived.
      if (chunks.length > 0) finish();
      else reject(error);
    });
    socket.on('end', finish);
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const body = split === -1 ? '' : text.slice(split + 4);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      const setCookies = head
        .split('\r\n')
        .filter((line) => /^set-cookie:/i.test(line))
        .map((line) => line.slice(line.indexOf(':') + 1).trim());
      resolve({ status, head, body, setCookies });
    }
    const request = [
      `GET ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      ...headerLines,
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    socket.write(Buffer.from(request, 'latin1'));
  });
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(workers);
}

/** A keep-alive agent for request floods (`fetch` is slower for many small requests). */
export function floodAgent(maxSockets = 50): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/** A lean GET over `node:http`: status, `Set-Cookie` lines and body. */
export function quickGet(
  url: string,
  headers: Record<string, string>,
  agent: http.Agent,
): Promise<{ status: number; setCookies: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            setCookies: res.headers['set-cookie'] ?? [],
            body,
          }),
        );
      })
      .on('error', reject);
  });
}

/**
 * Records the own keys of every request and response as a first middleware of `app` sees them;
 * the function returned lists the keys `o` (one of those) has gained since.
 */
export function trackAddedKeys(app: Express): (o: object) => PropertyKey[] {
  const before = new WeakMap<object, Set<PropertyKey>>();
  app.use((req, res, next) => {
    before.set(req, new Set(Reflect.ownKeys(req)));
    before.set(res, new Set(Reflect.ownKeys(res)));
    next();
  });
  return (o) => Reflect.ownKeys(o).filter((key) => !before.get(o)?.has(key));
}
