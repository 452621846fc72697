/**
 * Writing the session cookie into a response: `Set-Cookie`, next to the cookies others set, and
 * the `Cache-Control` that keeps a shared cache from handing it to someone else.
 */
import type { ServerResponse } from 'node:http';

/**
 * Puts our cookie into `Set-Cookie`, replacing one we set earlier in this response and keeping
 * every other cookie. Responses that set a session cookie are marked `Cache-Control: no-store`
 * (unless the app chose a policy) so no shared cache hands one user's cookie to another.
 */
export function setSessionCookie(res: ServerResponse, name: string, value: string): void {
  const previous = res.getHeader('Set-Cookie');
  if (previous === undefined) {
    res.setHeader('Set-Cookie', value);
  } else {
    const prefix = `${name}=`;
    const list = (Array.isArray(previous) ? previous : [String(previous)]).filter(
      (c) => !c.startsWith(prefix),
    );
    list.push(value);
    res.setHeader('Set-Cookie', list.length === 1 ? list[0]! : list);
  }
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
}
