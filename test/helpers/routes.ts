/** Express routes shared by the HTTP test suites. */
import type { Express, Request, RequestHandler, Response } from 'express';
import type { SessionManager } from '../../src/index.js';

/** An async route handler whose rejections reach Express's error handler (Express 4 too). */
export const h =
  (fn: (req: Request, res: Response) => Promise<unknown>): RequestHandler =>
  (req, res, next) => {
    fn(req, res).catch(next);
  };

/**
 * `/` counts visits (`visits=N`), `/write/:key/:value` sets one key, `/touch` touches: the
 * session writes every suite needs.
 */
export function addSessionWriteRoutes(app: Express, sm: SessionManager): void {
  app.get(
    '/',
    h(async (req, res) => {
      const visits = (((await sm.get(req, 'visits')) as number | undefined) ?? 0) + 1;
      await sm.set(req, 'visits', visits);
      res.send(`visits=${visits}`);
    }),
  );
  app.get(
    '/write/:key/:value',
    h(async (req, res) => {
      await sm.set(req, req.params.key as string, req.params.value as string);
      res.json({ id: req.sessionID ?? null });
    }),
  );
  app.get(
    '/touch',
    h(async (req, res) => {
      res.json({ touched: await sm.touch(req) });
    }),
  );
}
