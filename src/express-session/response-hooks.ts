import type { ServerResponse } from 'node:http';

/**
 * The drop-in's hooks on the response, as express-session places them: one just before the
 * headers (the `Set-Cookie`), and one on `res.end` that holds the end of the response until the
 * session is stored.
 */

/** Runs `listener` once, just before the response headers are written. */
export function beforeHeaders(res: ServerResponse, listener: () => void): void {
  const writeHead = res.writeHead;
  let fired = false;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!fired) {
      fired = true;
      // A status given to writeHead must be in place before the listener looks at the response.
      if (typeof args[0] === 'number') this.statusCode = args[0];
      listener();
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/** Adds a `Set-Cookie` line, keeping the ones already set (express-session appends too). */
export function appendSetCookie(res: ServerResponse, value: string): void {
  const previous = res.getHeader('Set-Cookie');
  const list =
    previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  res.setHeader('Set-Cookie', [...list, value]);
}

/**
 * Wraps `res.end` as express-session does: `commit(finish)` decides whether a store call must
 * complete before the response does (returns true, and calls `finish` when it has). Meanwhile
 * the headers are fixed (so the `Set-Cookie` is decided as express-session decides it) and the
 * last chunk is held whole: the client can't see the response complete before the session is
 * stored, and the response still goes out in one write instead of express-session's two (all but
 * the last byte, then the last byte).
 */
export function holdEnd(res: ServerResponse, commit: (finish: () => void) => boolean): void {
  const end = res.end as (...args: unknown[]) => ServerResponse;
  let ended = false;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (ended) return this;
    ended = true;
    let held = true;
    let waiting = false;
    const holding = commit(() => {
      held = false;
      if (waiting) end.apply(res, args);
    });
    if (!holding) return end.apply(this, args);
    if (!res.headersSent) res.writeHead(res.statusCode);
    // A store that called back synchronously has already released the response.
    if (held) waiting = true;
    else end.apply(res, args);
    return this;
  } as ServerResponse['end'];
}
