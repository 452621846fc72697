/**
 * The drop-in and the real express-session decide alike when a request counts as HTTPS (a TLS
 * socket; behind `proxy: true`, the first X-Forwarded-Proto value) and which requests the cookie
 * path covers when the middleware runs on a bare `node:http` server (no Express `originalUrl`).
 * Every scenario runs on both and asserts the same outcome.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import { Client, listen } from '../helpers/http.js';
import { listenTls, selfSigned } from '../helpers/tls.js';
import { makeApp } from './app.js';
import { type Factory, ours, real } from './impls.js';

const IMPLS: Array<[string, Factory]> = [
  ['express-session', real],
  ['drop-in', ours],
];

/** The `Set-Cookie` lines of one GET with `headers` on a fresh app of `session` with `options`. */
async function cookiesOf(
  session: Factory,
  options: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<string[]> {
  const server = await listen(makeApp(session, options));
  try {
    return (await new Client(server.url).get('/', headers)).headers.getSetCookie();
  } finally {
    await server.close();
  }
}

describe('proxy: true reads the first X-Forwarded-Proto value', () => {
  const secure = { proxy: true, cookie: { secure: true } };
  const cases: Array<[string, Record<string, string>, boolean]> = [
    ['no header: not HTTPS, no Secure cookie', {}, false],
    ['"https, http": HTTPS', { 'x-forwarded-proto': 'https, http' }, true],
    ['"http, https": not HTTPS', { 'x-forwarded-proto': 'http, https' }, false],
    ['" HTTPS ": HTTPS (case and spaces ignored)', { 'x-forwarded-proto': ' HTTPS ' }, true],
  ];
  for (const [name, headers, sent] of cases) {
    for (const [label, session] of IMPLS) {
      it(`${name} (${label})`, async () => {
        const lines = await cookiesOf(session, secure, headers);
        assert.equal(lines.length, sent ? 1 : 0, lines.join('\n'));
        if (sent) assert.match(lines[0]!, /; Secure/);
      });
    }
  }
});

describe('a TLS socket is HTTPS without any proxy setting', () => {
  const skip = selfSigned() ? undefined : 'openssl is not installed';
  for (const [label, session] of IMPLS) {
    it(`cookie.secure: true sets a Secure cookie over TLS (${label})`, { skip }, async () => {
      const server = await listenTls(makeApp(session, { cookie: { secure: true } }));
      try {
        const lines = await server.get('/');
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /; Secure/);
      } finally {
        await server.close();
      }
    });
  }
});

describe('on a bare node:http server the cookie path is matched against req.url', () => {
  for (const [label, session] of IMPLS) {
    it(`a session under cookie.path /app, none elsewhere (${label})`, async () => {
      const middleware = (session as unknown as (o: object) => http.RequestListener)({
        secret: 'keyboard cat',
        resave: false,
        saveUninitialized: true,
        cookie: { path: '/app' },
      }) as unknown as (
        req: http.IncomingMessage,
        res: http.ServerResponse,
        next: () => void,
      ) => void;
      const server = await listen((req, res) => {
        middleware(req, res, () => {
          const has = (req as { session?: unknown }).session !== undefined;
          res.end(has ? 'session' : 'none');
        });
      });
      try {
        const inside = await new Client(server.url).get('/app/page?x=1');
        assert.equal(inside.body, 'session');
        assert.equal(inside.cookies.length, 1);
        const outside = await new Client(server.url).get('/other');
        assert.equal(outside.body, 'none');
        assert.equal(outside.cookies.length, 0);
      } finally {
        await server.close();
      }
    });
  }
});
