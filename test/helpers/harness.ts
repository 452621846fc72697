/**
 * The HTTP harness of the behaviour tests: an Express app on a SessionManager over a `SpyStore`,
 * with routes that read, write, log in and out, write late or hostile data; the secrets, hostile
 * values and cookie helpers those tests share. Servers close after the test file.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type http from 'node:http';
import { after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type ErrorRequestHandler } from 'express';
import {
  SessionDestroyedError,
  SessionManager,
  type SessionManagerOptions,
  type SessionStore,
} from '../../src/index.js';
import { Client, fetchReply, listen, type Reply, type SetCookie } from './http.js';
import { addSessionWriteRoutes, h } from './routes.js';
import { SpyStore } from './spy-store.js';

export const SECRET = 'security test secret, long enough: 0123456789abcdef';
export const OLD_SECRET = 'the old secret before rotation: 1111111111111111';
export const NEW_SECRET = 'the new secret after rotation: 2222222222222222';
export const WEAK_SECRET = 'tiny-Q7';
export const SECRETS = [SECRET, OLD_SECRET, NEW_SECRET, WEAK_SECRET];
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const EPOCH = 'Thu, 01 Jan 1970 00:00:00 GMT';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

export function macOf(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

/** The cookie value (URL-encoded, as a browser holds it) for `id` signed with `secret`. */
export function cookieFor(id: string, secret = SECRET): string {
  return encodeURIComponent(`s:${id}.${macOf(id, secret)}`);
}

export function idOf(cookieValue: string): string {
  return /^s:([^.]*)\./.exec(decodeURIComponent(cookieValue))![1]!;
}

class Account {
  role = 'admin';
}
const circular: Record<string, unknown> = {};
circular.self = circular;
let deep: unknown = 1;
for (let i = 0; i < 100_000; i++) deep = { d: deep };

export const HOSTILE_VALUES: Record<string, () => unknown> = {
  bigint: () => 10n,
  function: () => () => 1,
  symbol: () => Symbol('s'),
  circular: () => circular,
  nan: () => Number.NaN,
  infinity: () => Number.POSITIVE_INFINITY,
  date: () => new Date(),
  map: () => new Map([['a', 1]]),
  set: () => new Set([1]),
  'class-instance': () => new Account(),
  'nested-undefined': () => ({ a: { b: undefined } }),
  'deep-100k': () => deep,
  'nested-proto': () => JSON.parse('{"__proto__":{"isAdmin":true}}'),
  'over-maxValueBytes': () => 'x'.repeat(5000),
  'toJSON-throws': () => ({
    toJSON() {
      throw new Error('boom');
    },
  }),
};
export const HOSTILE_KEYS: Record<string, unknown> = {
  proto: '__proto__',
  constructor: 'constructor',
  prototype: 'prototype',
  empty: '',
  'long-300': 'k'.repeat(300),
  number: 1,
  symbol: Symbol('k'),
  object: {},
};

/** A one-shot rendezvous: `arrived` resolves on `loaded()`, `released` on `release()`. */
function latch() {
  let loaded!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((resolve) => {
    loaded = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { arrived, loaded, released, release };
}

export interface Harness {
  manager: SessionManager;
  spy: SpyStore;
  /** Every error the app's error handler and the routes saw. */
  errors: unknown[];
  /**
   * The `/slow/:op` route loads the session, resolves `loaded`, then waits for `release()` before
   * it writes: a test logs out in between, with no race on timing.
   */
  slow: { loaded: Promise<void>; release(): void };
  url: string;
  port: number;
  client(): Client;
}

export async function harness(
  options: Partial<SessionManagerOptions> = {},
  config: {
    inner?: SessionStore;
    server?: http.ServerOptions;
    /** Answer errors with their message too, as many apps do, instead of only their `code`. */
    exposeMessages?: boolean;
  } = {},
): Promise<Harness> {
  const spy = new SpyStore(config.inner);
  const errors: unknown[] = [];
  const slow = latch();
  const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
    errors.push(error);
    const body: Record<string, unknown> = { code: error.code ?? 'UNKNOWN' };
    if (config.exposeMessages) body.message = String(error.message);
    res.status(error.status ?? 500).json(body);
  };
  const manager = new SessionManager({ secret: SECRET, store: spy, ...options });
  const sm = manager;
  const app = express();
  app.use(sm.middleware());
  addSessionWriteRoutes(app, sm);
  app.get(
    '/read/:key',
    h(async (req, res) => {
      const value = await sm.get(req, req.params.key as string);
      res.json({ value: value ?? null, id: req.sessionID ?? null });
    }),
  );
  app.get(
    '/login',
    h(async (req, res) => {
      const keep =
        req.query.keep === 'all'
          ? true
          : req.query.keep
            ? String(req.query.keep).split(',')
            : false;
      const id = await sm.regenerate(req, { keep });
      res.json({ id });
    }),
  );
  app.get(
    '/logout',
    h(async (req, res) => {
      await sm.destroy(req);
      res.send('bye');
    }),
  );
  app.get(
    '/slow/:op',
    h(async (req, res) => {
      await sm.get(req, 'visits');
      // Loaded: wait (bounded) until the test has logged this session out elsewhere.
      slow.loaded();
      await Promise.race([slow.released, sleep(10_000)]);
      try {
        if (req.params.op === 'touch') await sm.touch(req);
        else await sm.set(req, 'late', 'write');
      } catch (error) {
        if (!(error instanceof SessionDestroyedError)) throw error;
        errors.push(error);
        res.status(409).json({ code: error.code });
        return;
      }
      res.json({ code: 'WRITTEN' });
    }),
  );
  app.get(
    '/hostile-value/:case',
    h(async (req, res) => {
      await sm.set(req, 'victim', HOSTILE_VALUES[req.params.case as string]!() as never);
      res.send('accepted');
    }),
  );
  app.get(
    '/hostile-key/:case',
    h(async (req, res) => {
      await sm.set(req, HOSTILE_KEYS[req.params.case as string] as string, 'evil');
      res.send('accepted');
    }),
  );
  app.get(
    '/probe',
    h(async (req, res) => {
      const polluted =
        ({} as Record<string, unknown>).isAdmin !== undefined ||
        Object.hasOwn(Object.prototype, 'isAdmin');
      res.json({
        polluted,
        isAdmin: (await sm.get(req, 'isAdmin')) ?? null,
        user: (await sm.get(req, 'user')) ?? null,
      });
    }),
  );
  app.get(
    '/write-big',
    h(async (req, res) => {
      await sm.set(req, 'big', 'x'.repeat(200_000));
      res.send('big');
    }),
  );
  app.get(
    '/write-10mb',
    h(async (req, res) => {
      await sm.set(req, 'big', 'x'.repeat(10 * 1024 * 1024));
      res.send('accepted');
    }),
  );
  app.post(
    '/read-body/:key',
    express.json(),
    h(async (req, res) => {
      const value = await sm.get(req, req.params.key as string);
      res.json({ value: value ?? null, id: req.sessionID ?? null });
    }),
  );
  app.use(errorHandler);
  const server = await listen(app, config.server);
  cleanups.push(async () => {
    await server.close();
    await manager.close();
  });
  return {
    manager,
    spy,
    errors,
    slow: { loaded: slow.arrived, release: slow.release },
    url: server.url,
    port: server.port,
    client: () => new Client(server.url),
  };
}

export function only(reply: Reply, name = 'sid'): SetCookie {
  const cookies = reply.cookiesNamed(name);
  assert.equal(cookies.length, 1, `one Set-Cookie for ${name}: ${reply.headers.get('set-cookie')}`);
  return cookies[0]!;
}

/** A client with a live session holding `visits: 1`; returns its cookie value and id. */
export async function session(
  hx: Harness,
): Promise<{ client: Client; cookie: string; id: string }> {
  const client = hx.client();
  const reply = await client.get('/');
  assert.equal(reply.body, 'visits=1');
  const cookie = client.jar.get('sid')!;
  return { client, cookie, id: idOf(cookie) };
}

export async function readWith(hx: Harness, cookieHeader: string, path = '/read/visits') {
  return fetchReply(hx.url + path, { cookie: cookieHeader });
}

// ---------------------------------------------------------------------------------------------
