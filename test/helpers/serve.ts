/**
 * An Express app on a SessionManager for the behaviour tests: the shared write routes, the
 * test's own routes, and an error handler that answers `{ code, message }` with the error's
 * status. The server and the manager close after the test file.
 */
import { after } from 'node:test';
import express, { type ErrorRequestHandler } from 'express';
import type { SessionManager } from '../../src/index.js';
import { listen } from './http.js';
import { addSessionWriteRoutes } from './routes.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Serves `manager` with `routes` added; resolves the base URL. */
export async function serveManager(
  manager: SessionManager,
  routes: (app: express.Express) => void = () => {},
): Promise<string> {
  const app = express();
  app.use(manager.middleware());
  addSessionWriteRoutes(app, manager);
  routes(app);
  const errors: ErrorRequestHandler = (error, _req, res, _next) => {
    res.status(error.status ?? 500).json({ code: error.code ?? 'UNKNOWN', message: error.message });
  };
  app.use(errors);
  const server = await listen(app);
  cleanups.push(async () => {
    await server.close();
    await manager.close();
  });
  return server.url;
}

/** Runs `cleanup` after the test file, with the servers. */
export function afterFile(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}
