import type { ServerResponse } from 'node:http';

/**
 * The drop-in's hooks on the response, as express-session places them: one just before the
 * headers (the `Set-Cookie`), and one on `res.end` that holds the response's last byte until the
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
 * the headers and all but the last byte of a response with a `Content-Length` are written, so
 * the client can't see the response complete before the session is stored.
 */
export function holdEnd(res: ServerResponse, commit: (finish: () => void) => boolean): void {
  const end = res.end as (...args: unknown[]) => ServerResponse;
  const write = res.write as (...args: unknown[]) => boolean;
  let ended = false;
  res.end = function (
    this: ServerResponse,
    chunk?: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    if (ended) return this;
    ended = true;
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const tail: unknown[] = [];
    let held = true;
    let rest: unknown[] | undefined;
    const finish = () => {
      held = false;
      if (rest) end.apply(res, rest);
    };
    const holding = commit(finish);
    if (!holding) return end.call(res, chunk, encoding, callback);
    if (!res.headersSent) res.writeHead(res.statusCode);
    if (chunk !== undefined && chunk !== null) {
      const length = Number(res.getHeader('Content-Length'));
      let body = chunk;
      if (!Number.isNaN(length) && length > 0) {
        const bytes = Buffer.isBuffer(body)
          ? body
          : Buffer.from(body as string, (encoding as BufferEncoding | undefined) ?? 'utf8');
        if (bytes.length > 0) {
          write.call(res, bytes.subarray(0, bytes.length - 1));
          body = bytes.subarray(bytes.length - 1);
          tail.push(body);
        } else {
          write.call(res, bytes);
        }
      } else {
        write.call(res, body, encoding);
      }
    }
    rest = [...tail, callback].filter((a) => a !== undefined);
    if (!held) end.apply(res, rest);
    return this;
  } as ServerResponse['end'];
}
