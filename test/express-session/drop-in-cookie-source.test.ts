/**
 * Where the drop-in finds the session cookie and its secret, as express-session does: from
 * cookie-parser's `req.signedCookies` or `req.cookies` when the Cookie header is gone (a
 * middleware stripped it after cookie-parser ran), and from cookie-parser's `req.secret` when
 * `session()` is given no options at all. Each scenario runs on the real express-session and on
 * the drop-in and asserts the same outcome.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import cookieParser from 'cookie-parser';
import express from 'express';
import { InvalidOptionError } from '../../src/errors.js';
import { Client, listen } from '../helpers/http.js';
import { type Factory, ours, real } from './impls.js';

const IMPLS: Array<[string, Factory]> = [
  ['express-session', real],
  ['drop-in', ours],
];
const SECRET = 'keyboard cat';

/**
 * Three requests of one browser to a view counter behind `parsers` and `session(...args)`;
 * resolves the counts it saw.
 */
async function views(session: Factory, args: unknown[], ...parsers: express.RequestHandler[]) {
  const app = express();
  app.use(...parsers);
  app.use((session as unknown as (...a: unknown[]) => express.RequestHandler)(...args));
  app.get('/', (req, res) => {
    const s = req.session as unknown as { views?: number };
    s.views = (s.views ?? 0) + 1;
    res.send(String(s.views));
  });
  const server = await listen(app);
  try {
    const browser = new Client(server.url);
    const counts: string[] = [];
    for (let i = 0; i < 3; i++) counts.push((await browser.get('/')).body);
    return counts;
  } finally {
    await server.close();
  }
}

/** Removes the Cookie header, as a middleware after cookie-parser may. */
const stripHeader: express.RequestHandler = (req, _res, next) => {
  delete req.headers.cookie;
  next();
};

const options = { secret: SECRET, resave: false, saveUninitialized: false };

describe('the session cookie read from cookie-parser when the Cookie header is gone', () => {
  for (const [label, session] of IMPLS) {
    it(`req.signedCookies (cookie-parser with the secret) (${label})`, async () => {
      assert.deepEqual(await views(session, [options], cookieParser(SECRET), stripHeader), [
        '1',
        '2',
        '3',
      ]);
    });

    it(`req.cookies holding the signed value (cookie-parser without a secret) (${label})`, async () => {
      assert.deepEqual(await views(session, [options], cookieParser(), stripHeader), [
        '1',
        '2',
        '3',
      ]);
    });

    it(`req.cookies signed with another secret starts over each time (${label})`, async () => {
      const app = cookieParser();
      const forged: express.RequestHandler = (req, res, next) =>
        app(req, res, () => {
          const cookies = req.cookies as Record<string, string>;
          if (cookies['connect.sid']) cookies['connect.sid'] = `${cookies['connect.sid']}x`;
          next();
        });
      assert.deepEqual(await views(session, [options], forged, stripHeader), ['1', '1', '1']);
    });
  }
});

describe('session() without options takes the secret from cookie-parser', () => {
  for (const [label, session] of IMPLS) {
    it(`works across requests with req.secret (${label})`, async () => {
      // Both warn that req.secret is deprecated; the warning is not what is tested here.
      const warnings = process.listeners('warning');
      process.removeAllListeners('warning');
      process.on('warning', () => {});
      try {
        assert.deepEqual(await views(session, [], cookieParser(SECRET)), ['1', '2', '3']);
      } finally {
        process.removeAllListeners('warning');
        for (const listener of warnings) process.on('warning', listener);
      }
    });
  }
});

describe('the drop-in refuses a secret list with an empty or non-string entry', () => {
  for (const secret of [
    ['current', ''],
    ['current', 42],
  ]) {
    it(`${JSON.stringify(secret)}`, () => {
      assert.throws(
        () => (ours as unknown as (o: object) => unknown)({ secret }),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          /secret must be a non-empty string/.test(error.message),
      );
    });
  }
});
