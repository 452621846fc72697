/**
 * The drop-in on Express 4, Express 5 and plain `node:http`, with and without cookie-parser in
 * front: the README views counter works unchanged on each.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import cookieParser from 'cookie-parser';
import express5 from 'express';
// @ts-expect-error `express4` is an npm alias of express@4, which ships no type declarations
import express4 from 'express4';
import session from '../../src/express-session/index.js';
import { Client, listen } from '../helpers/http.js';

const options = { secret: 'keyboard cat', resave: false, saveUninitialized: true };

type Req = http.IncomingMessage & { session: Record<string, unknown> & { views?: number } };

async function countsViews(base: string) {
  const client = new Client(base);
  assert.equal((await client.get('/')).body, 'views: 1');
  assert.equal((await client.get('/')).body, 'views: 2');
  assert.equal((await new Client(base).get('/')).body, 'views: 1');
}

for (const [label, express] of [
  ['Express 4', express4],
  ['Express 5', express5],
] as const) {
  for (const withParser of [false, true]) {
    describe(`${label}${withParser ? ' behind cookie-parser' : ''}`, () => {
      it('the README views counter', async () => {
        const app = (express as unknown as () => express5.Express)();
        if (withParser) app.use(cookieParser('keyboard cat'));
        app.use(session(options) as never);
        app.get('/', (req, res) => {
          const s = (req as unknown as Req).session;
          s.views = (s.views ?? 0) + 1;
          res.send(`views: ${s.views}`);
        });
        const server = await listen(app);
        try {
          await countsViews(server.url);
        } finally {
          await server.close();
        }
      });
    });
  }
}

describe('plain node:http', () => {
  it('the views counter, with res.end written by hand', async () => {
    const middleware = session(options);
    const server = await listen((req, res) => {
      middleware(req, res, (error) => {
        if (error) {
          res.statusCode = 500;
          res.end(String(error));
          return;
        }
        const s = (req as Req).session;
        s.views = (s.views ?? 0) + 1;
        res.setHeader('Content-Type', 'text/plain');
        res.end(`views: ${s.views}`);
      });
    });
    try {
      await countsViews(server.url);
    } finally {
      await server.close();
    }
  });
});
