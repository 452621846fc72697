/**
 * The express-session app the interop tests drive: the same routes under the real
 * express-session and under the drop-in, so one HTTP scenario can run against both.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

type SessionFactory = (options: Record<string, unknown>) => express.RequestHandler;

/** `req.session` as an open record (the scenarios use arbitrary keys). */
export function sess(req: Request): Record<string, unknown> & {
  cookie: Record<string, unknown>;
  save(cb?: (e?: unknown) => void): void;
  reload(cb: (e?: unknown) => void): void;
  destroy(cb?: (e?: unknown) => void): void;
  regenerate(cb: (e?: unknown) => void): void;
  touch(): void;
} {
  return req.session as never;
}

/** The session data without its cookie. */
export function dataOf(req: Request): Record<string, unknown> {
  const { cookie: _cookie, ...data } = sess(req);
  return data;
}

/**
 * Routes: `/` counts views; `/set/:k/:v`; `/data`; `/regenerate` (login); `/destroy`; `/reload`;
 * `/save`; `/cookie`; `/nothing` (never touches the session); `/wait?ms=` (answers late, session untouched); `/slow/:k/:v?ms=` sets a key after
 * a delay; errors become `{ code }` with the error's status.
 */
export function makeApp(session: SessionFactory, options: Record<string, unknown>): Express {
  const app = express();
  app.use(session({ secret: 'keyboard cat', resave: false, saveUninitialized: false, ...options }));
  app.get('/', (req, res) => {
    const s = sess(req);
    s.views = ((s.views as number | undefined) ?? 0) + 1;
    res.send(`views=${s.views}`);
  });
  app.get('/set/:k/:v', (req, res) => {
    sess(req)[req.params.k as string] = req.params.v;
    res.json({ id: req.sessionID });
  });
  app.get('/unset/:k', (req, res) => {
    delete sess(req)[req.params.k as string];
    res.json({ id: req.sessionID });
  });
  app.get('/data', (req, res) => {
    res.json({ id: req.sessionID, data: dataOf(req) });
  });
  app.get('/regenerate', (req, res, next) => {
    const old = req.sessionID;
    sess(req).regenerate((error) => {
      if (error) return next(error);
      sess(req).user = 'alice';
      res.json({ old, id: req.sessionID });
    });
  });
  app.get('/destroy', (req, res, next) => {
    sess(req).destroy((error) => (error ? next(error) : res.json({ ok: true })));
  });
  app.get('/reload', (req, res, next) => {
    sess(req).reload((error) => (error ? next(error) : res.json({ data: dataOf(req) })));
  });
  app.get('/save', (req, res, next) => {
    sess(req).saved = 'yes';
    sess(req).save((error) => (error ? next(error) : res.json({ id: req.sessionID })));
  });
  app.get('/cookie', (req, res) => {
    const c = sess(req).cookie;
    res.json({ expires: c.expires ?? null, maxAge: c.maxAge, originalMaxAge: c.originalMaxAge });
  });
  app.get('/nothing', (_req, res) => {
    res.send('ok');
  });
  app.get('/wait', (req, res) => {
    setTimeout(() => res.send('ok'), Number(req.query.ms ?? 300));
  });
  app.get('/slow/:k/:v', (req, res) => {
    setTimeout(
      () => {
        sess(req)[req.params.k as string] = req.params.v;
        res.json({ id: req.sessionID });
      },
      Number(req.query.ms ?? 300),
    );
  });
  app.use(
    (
      err: { status?: number; code?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code ?? 'ERROR' });
    },
  );
  return app;
}
