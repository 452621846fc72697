/** Writing the session cookie into a response: other cookies kept, ours replaced, no-store. */
import assert from 'node:assert/strict';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setSessionCookie } from '../src/set-cookie.js';

function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

describe('setSessionCookie', () => {
  it('sets the cookie and Cache-Control: no-store on a bare response', () => {
    const res = response();
    setSessionCookie(res, 'sid', 'sid=a; Path=/');
    assert.equal(res.getHeader('Set-Cookie'), 'sid=a; Path=/');
    assert.equal(res.getHeader('Cache-Control'), 'no-store');
  });
  it("replaces the cookie it set earlier and keeps the app's other cookies", () => {
    const res = response();
    res.setHeader('Set-Cookie', ['theme=dark', 'sid=old']);
    setSessionCookie(res, 'sid', 'sid=new');
    assert.deepEqual(res.getHeader('Set-Cookie'), ['theme=dark', 'sid=new']);
    setSessionCookie(res, 'sid', 'sid=newer');
    assert.deepEqual(res.getHeader('Set-Cookie'), ['theme=dark', 'sid=newer']);
  });
  it('keeps a cookie whose name only starts like ours, and a single string header', () => {
    const res = response();
    res.setHeader('Set-Cookie', 'sidebar=open');
    setSessionCookie(res, 'sid', 'sid=a');
    assert.deepEqual(res.getHeader('Set-Cookie'), ['sidebar=open', 'sid=a']);
  });
  it("leaves the app's own Cache-Control alone", () => {
    const res = response();
    res.setHeader('Cache-Control', 'private, max-age=0');
    setSessionCookie(res, 'sid', 'sid=a');
    assert.equal(res.getHeader('Cache-Control'), 'private, max-age=0');
  });
});
