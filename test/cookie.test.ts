/** The session cookie over real HTTP: signatures, secret rotation, hostile Cookie headers and the attributes of Set-Cookie. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  InvalidOptionError,
  MemoryStore,
  SessionManager,
  type SessionManagerOptions,
} from '../src/index.js';
import {
  cookieFor,
  type Harness,
  harness,
  idOf,
  macOf,
  NEW_SECRET,
  OLD_SECRET,
  only,
  readWith,
  SECRET,
  session,
} from './helpers/harness.js';
import { expiresOf, fetchReply, rawGet } from './helpers/http.js';

describe('tampered signatures are anonymous, never read from the store', () => {
  it('rejects every forged, truncated, suffixed or prefixed variant', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    const v = decodeURIComponent(cookie);
    const mac = v.slice(v.lastIndexOf('.') + 1);
    const otherId = (await session(hx)).id;
    const variants: [string, string][] = [
      ["v+'x'", `${v}x`],
      ["'x'+v", `x${v}`],
      ["v+'.x'", `${v}.x`],
      ["v+' ' (encoded)", `${v} `],
      ["' '+v (encoded)", ` ${v}`],
      ['garbage.+v', `garbage.${v}`],
      ['doubled separator', `s:${id}..${mac}`],
      ['two signatures', `${v}.${mac}`],
      ['truncated signature', v.slice(0, -1)],
      ['signature truncated to 10', `s:${id}.${mac.slice(0, 10)}`],
      ['padded signature', `${v}=`],
      ['empty signature', `s:${id}.`],
      ['no signature', `s:${id}`],
      ['raw unsigned id', id],
      ['no s: prefix', `${id}.${mac}`],
      ["another cookie's signature", `s:${id}.${macOf(otherId, SECRET)}`],
      [
        'signed by a secret not in the list',
        `s:${id}.${macOf(id, 'not our secret at all, 0123456789')}`,
      ],
      ['id changed by one char', `s:${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}.${mac}`],
      ['base64url signature', `s:${id}.${mac.replace(/\+/g, '-').replace(/\//g, '_')}!`],
      [
        'signature in other case',
        `s:${id}.${mac.toLowerCase() === mac ? mac.toUpperCase() : mac.toLowerCase()}`,
      ],
    ];
    for (const [name, value] of variants) {
      hx.spy.reset();
      const reply = await readWith(hx, `sid=${encodeURIComponent(value)}`);
      assert.deepEqual(reply.json(), { value: null, id: null }, name);
      assert.equal(hx.spy.calls.get, 0, `${name}: no store read`);
      assert.equal(reply.cookiesNamed('sid').length, 0, `${name}: no Set-Cookie on a read`);
      // a write creates a fresh id, never the presented one
      const write = await fetchReply(`${hx.url}/write/k/v`, {
        cookie: `sid=${encodeURIComponent(value)}`,
      });
      const issued = idOf(only(write).value);
      assert.notEqual(issued, id, name);
      assert.equal(hx.spy.calls.get, 0, `${name}: still no store read`);
    }
    // the genuine cookie still works and its session was never touched by the forgeries
    assert.deepEqual((await readWith(hx, `sid=${cookie}`)).json(), { value: 1, id });
  });

  it('the test-vector format: a quoted valid cookie is unquoted consistently (as jshttp/cookie)', async () => {
    const hx = await harness();
    const { cookie, id } = await session(hx);
    assert.deepEqual((await readWith(hx, `sid="${cookie}"`)).json(), { value: 1, id });
    hx.spy.reset();
    assert.deepEqual((await readWith(hx, `sid="${cookie}`)).json(), { value: null, id: null });
    assert.deepEqual((await readWith(hx, `sid=${cookie}"`)).json(), { value: null, id: null });
    assert.equal(hx.spy.calls.get, 0);
  });
});

describe('secret rotation', () => {
  it('[old] → [new, old] re-issues under new → [new] alone accepts it and rejects the old cookie', async () => {
    const shared = new MemoryStore({ cleanupInterval: 0, indexInterval: 0 });
    const a = await harness({ secret: [OLD_SECRET] }, { inner: shared });
    const b = await harness({ secret: [NEW_SECRET, OLD_SECRET] }, { inner: shared });
    const c = await harness({ secret: [NEW_SECRET] }, { inner: shared });

    const { cookie: oldCookie, id } = await session(a);
    assert.equal(decodeURIComponent(oldCookie), `s:${id}.${macOf(id, OLD_SECRET)}`);

    const fromB = await readWith(b, `sid=${oldCookie}`);
    assert.deepEqual(fromB.json(), { value: 1, id });
    const reissued = only(fromB);
    assert.equal(decodeURIComponent(reissued.value), `s:${id}.${macOf(id, NEW_SECRET)}`);
    assert.ok(expiresOf(reissued)! > Date.now());
    // no cookie issued by B verifies under [old]
    const d = await harness({ secret: [OLD_SECRET] }, { inner: shared });
    assert.deepEqual((await readWith(d, `sid=${reissued.value}`)).json(), {
      value: null,
      id: null,
    });
    assert.equal(d.spy.calls.get, 0);

    // B's fresh cookies are signed with the new secret, and a B-signed cookie needs no renewal
    const again = await readWith(b, `sid=${reissued.value}`);
    assert.equal(again.cookiesNamed('sid').length, 0);

    c.spy.reset();
    assert.deepEqual((await readWith(c, `sid=${reissued.value}`)).json(), { value: 1, id });
    assert.equal(c.spy.calls.get, 1);
    c.spy.reset();
    assert.deepEqual((await readWith(c, `sid=${oldCookie}`)).json(), { value: null, id: null });
    assert.equal(c.spy.calls.get, 0, 'a cookie of a retired secret is never looked up');
  });
});

describe('bad cookie headers', () => {
  let hx: Harness;
  let valid: string;
  let validId: string;

  async function expectAnonymous(lines: string[], label: string, path = '/read/visits') {
    hx.spy.reset();
    const reply = await rawGet(hx.port, path, lines);
    assert.equal(reply.status, 200, `${label}: ${reply.head.split('\r\n')[0]}`);
    assert.deepEqual(JSON.parse(reply.body), { value: null, id: null }, label);
    assert.equal(hx.spy.calls.get, 0, `${label}: no store read`);
    assert.equal(reply.setCookies.length, 0, `${label}: no Set-Cookie`);
  }

  async function expectValid(lines: string[], label: string) {
    const reply = await rawGet(hx.port, '/read/visits', lines);
    assert.equal(reply.status, 200, label);
    assert.deepEqual(JSON.parse(reply.body), { value: 1, id: validId }, label);
  }

  before(async () => {
    // A server accepting large headers, and one live session.
    hx = await harness({}, { server: { maxHeaderSize: 256 * 1024 } });
    const s = await session(hx);
    valid = s.cookie;
    validId = s.id;
  });

  it('empty, valueless and malformed cookies are anonymous', async () => {
    await expectAnonymous([], 'no Cookie header');
    await expectAnonymous(['Cookie: '], 'empty Cookie');
    await expectAnonymous(['Cookie: sid='], 'sid=');
    await expectAnonymous(['Cookie: sid'], 'sid without =');
    await expectAnonymous(['Cookie: sid=%E0%A4%A'], 'malformed escape');
    await expectAnonymous(['Cookie: sid=%'], 'lone %');
    await expectAnonymous([`Cookie: sid=%3C${valid}`], 'percent-encoded junk prefix');
    await expectAnonymous([`Cookie: sid=${'%'.repeat(15_000)}`], "sid= + '%' × 15000");
    await expectAnonymous([`Cookie: sid=${'%E0%A4%A'.repeat(1500)}`], 'many malformed escapes');
  });

  it('a NUL after decoding is refused before the store', async () => {
    const nulId = `abc\0def${'a'.repeat(24)}`;
    const value = encodeURIComponent(`s:${nulId}.${macOf(nulId, SECRET)}`);
    assert.match(value, /%00/);
    await expectAnonymous([`Cookie: sid=${value}`], 'signed id with NUL');
    await expectAnonymous([`Cookie: sid=s%3Aabc%00def.${macOf('abc', SECRET)}`], 'NUL, bad mac');
  });

  it('a correctly signed path-traversal id fails the format check → anonymous', async () => {
    const traversal = '../../etc/passwd';
    const value = encodeURIComponent(`s:${traversal}.${macOf(traversal, SECRET)}`);
    assert.match(value, /\.\.%2F\.\.%2Fetc%2Fpasswd/);
    await expectAnonymous([`Cookie: sid=${value}`], 'path traversal');
    for (const id of [
      '..',
      'a/b/c/d/e/f/g/h/i/j/k/l/m',
      `${'a'.repeat(30)}.json`,
      'a'.repeat(300),
    ]) {
      await expectAnonymous([`Cookie: sid=${cookieFor(id)}`], JSON.stringify(id));
    }
  });

  it('15 KB of a=b; pairs: anonymous, and the session is still found after them', async () => {
    const junk = 'a=b; '.repeat(3000);
    await expectAnonymous([`Cookie: ${junk}`], '15 KB of pairs');
    await expectValid([`Cookie: ${junk}sid=${valid}`], '15 KB then sid');
  });

  it('8,000 duplicate names and 5,000 empty pairs do not crash and stay anonymous', async () => {
    await expectAnonymous([`Cookie: ${'sid=x; '.repeat(8000)}`], '8000 duplicates');
    await expectAnonymous([`Cookie: ${';'.repeat(20_000)}`], ';;;; × 5000');
    await expectAnonymous([`Cookie: sid${';'.repeat(20_000)}`], 'name then ;;;;');
    await expectValid([`Cookie: ${';'.repeat(20_000)}sid=${valid}`], ';;;; then sid');
  });

  it('duplicate names: the correctly signed one is used, in either order', async () => {
    await expectValid([`Cookie: sid=junk; sid=${valid}`], 'junk first');
    await expectValid([`Cookie: sid=${valid}; sid=junk`], 'valid first');
    await expectValid(
      [`Cookie: sid=${cookieFor(validId, 'wrong secret, 0123456789abcdef')}; sid=${valid}`],
      'forged first',
    );
    await expectValid(['Cookie: sid=junk', `Cookie: sid=${valid}`], 'two Cookie headers');
  });

  it('duplicate names: a correctly signed but stale cookie does not hide the live one', async () => {
    const staleId = randomBytes(24).toString('base64url');
    const stale = cookieFor(staleId);
    await expectValid([`Cookie: sid=${stale}; sid=${valid}`], 'stale first');
    await expectValid([`Cookie: sid=${valid}; sid=${stale}`], 'stale last');
  });

  it('look-alike names are not ours: Unicode-space prefixes and other case', async () => {
    await expectAnonymous([`Cookie: \u00A0sid=${valid}`], 'NBSP prefix');
    const enSpace = Buffer.from('\u2000', 'utf8').toString('latin1');
    await expectAnonymous([`Cookie: ${enSpace}sid=${valid}`], 'U+2000 prefix (UTF-8 bytes)');
    await expectAnonymous([`Cookie: SID=${valid}`], 'upper case');
    await expectAnonymous([`Cookie: Sid=${valid}`], 'mixed case');
    await expectAnonymous([`Cookie: s%69d=${valid}`], 'encoded name');
    await expectAnonymous([`Cookie: sid\u00A0=${valid}`], 'NBSP suffix');
  });

  it('cookie names that are Object.prototype members do not pollute or crash', async () => {
    const names = '__proto__=1; constructor=2; hasOwnProperty=3; toString=4; valueOf=5';
    await expectAnonymous([`Cookie: ${names}`], 'prototype names');
    await expectValid([`Cookie: ${names}; sid=${valid}`], 'prototype names then sid');
    await expectAnonymous([`Cookie: __proto__=${valid}`], 'our value under __proto__');
    const headerReply = await rawGet(hx.port, '/read/visits', ['__proto__: x', 'constructor: y']);
    assert.equal(headerReply.status, 200);
    assert.equal(({} as Record<string, unknown>).sid, undefined);
  });

  it('session ids in the query string or other headers are ignored', async () => {
    for (const path of [
      `/read/visits?sid=${valid}`,
      `/read/visits?sid=${validId}`,
      `/read/visits?sessionID=${validId}`,
    ]) {
      await expectAnonymous([], path, path);
    }
    await expectAnonymous([`X-Session-Id: ${validId}`], 'X-Session-Id id');
    await expectAnonymous([`X-Session-Id: ${valid}`], 'X-Session-Id signed');
    await expectAnonymous([`Authorization: Bearer ${valid}`], 'Authorization');
  });

  it('CR in a Cookie header is refused by Node (400) and the server keeps serving', async () => {
    const reply = await rawGet(hx.port, '/read/visits', [`Cookie: sid=${valid}\rX: y`]);
    assert.equal(reply.status, 400);
    await expectValid([`Cookie: sid=${valid}`], 'after the bad request');
  });

  it('a 20 KB header gets 431 from Node and the server keeps serving', async () => {
    const small = await harness();
    const { cookie, id } = await session(small);
    const reply = await rawGet(small.port, '/read/visits', [
      `Cookie: sid=${cookie}; pad=${'x'.repeat(20 * 1024)}`,
    ]);
    assert.equal(reply.status, 431);
    assert.deepEqual((await readWith(small, `sid=${cookie}`)).json(), { value: 1, id });
  });

  it('__Host- names: look-alikes are not ours', async () => {
    const host = await harness({ cookieName: '__Host-sid' });
    const client = host.client();
    const first = await client.get('/');
    const cookie = only(first, '__Host-sid');
    assert.equal(cookie.attributes.get('secure'), true);
    assert.equal(cookie.attributes.get('path'), '/');
    assert.equal(cookie.attributes.has('domain'), false);
    const value = cookie.value;
    const id = idOf(value);
    const check = async (line: string, expected: unknown) => {
      const reply = await rawGet(host.port, '/read/visits', [line]);
      assert.deepEqual(JSON.parse(reply.body), expected, line);
    };
    await check(`Cookie: __Host-sid=${value}`, { value: 1, id });
    await check(`Cookie: __host-sid=${value}`, { value: null, id: null });
    await check(`Cookie: __HOST-sid=${value}`, { value: null, id: null });
    await check(`Cookie: ${Buffer.from('\u2000', 'utf8').toString('latin1')}__Host-sid=${value}`, {
      value: null,
      id: null,
    });
    await check(`Cookie: sid=${value}`, { value: null, id: null });
  });

  it('a cookie name that is an Object.prototype member works as a plain name', async () => {
    const odd = await harness({ cookieName: 'constructor' });
    const client = odd.client();
    await client.get('/');
    assert.ok(client.jar.has('constructor'));
    assert.equal((await client.get('/')).body, 'visits=2');
    assert.deepEqual((await readWith(odd, 'hasOwnProperty=1')).json(), { value: null, id: null });
  });
});

describe('cookie attributes', () => {
  it('HttpOnly, SameSite=Lax, Path=/, no Secure on plain HTTP outside production', async () => {
    const hx = await harness();
    const reply = await hx.client().get('/');
    const cookie = only(reply);
    assert.equal(cookie.attributes.get('httponly'), true);
    assert.equal(cookie.attributes.get('samesite'), 'Lax');
    assert.equal(cookie.attributes.get('path'), '/');
    assert.equal(cookie.attributes.has('secure'), false);
    assert.equal(cookie.attributes.has('domain'), false);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  });

  it('Secure under NODE_ENV=production, even on plain HTTP', async () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    let hx: Harness;
    try {
      hx = await harness();
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
    const client = hx.client();
    assert.equal(only(await client.get('/')).attributes.get('secure'), true);
    assert.equal(only(await client.get('/logout')).attributes.get('secure'), true);
  });

  it('Secure with cookie: { secure: true }', async () => {
    const hx = await harness({ cookie: { secure: true } });
    assert.equal(only(await hx.client().get('/')).attributes.get('secure'), true);
  });

  const injections: [string, Partial<SessionManagerOptions>, string][] = [
    ["cookieName 'a;b'", { cookieName: 'a;b' }, 'cookieName'],
    ['cookieName with CR/LF', { cookieName: 'sid\r\nSet-Cookie: admin=1' }, 'cookieName'],
    ['cookieName with =', { cookieName: 'sid=x' }, 'cookieName'],
    ["cookie.path '/;x'", { cookie: { path: '/;x' } }, 'cookie.path'],
    ['cookie.path with CR/LF', { cookie: { path: '/\r\nx' } }, 'cookie.path'],
    ['cookie.domain with ;', { cookie: { domain: 'example.com; Secure' } }, 'cookie.domain'],
    ['cookie.domain with CR/LF', { cookie: { domain: 'example.com\r\nx' } }, 'cookie.domain'],
    [
      '__Host- with a domain',
      { cookieName: '__Host-sid', cookie: { domain: 'example.com' } },
      'cookie.domain',
    ],
    ['__Host- with a path', { cookieName: '__Host-sid', cookie: { path: '/app' } }, 'cookie.path'],
    [
      '__Host- without secure',
      { cookieName: '__Host-sid', cookie: { secure: false } },
      'cookie.secure',
    ],
    [
      '__Secure- without secure',
      { cookieName: '__Secure-sid', cookie: { secure: false } },
      'cookie.secure',
    ],
    [
      'SameSite=None without secure',
      { cookie: { sameSite: 'none', secure: false } },
      'cookie.secure',
    ],
    [
      'cookie.path over 1024 octets (browsers ignore it)',
      { cookie: { path: `/${'a'.repeat(1024)}` } },
      'cookie.path',
    ],
    [
      'cookie.domain over 1024 octets',
      { cookie: { domain: `${'a.'.repeat(520)}com` } },
      'cookie.domain',
    ],
  ];
  for (const [name, options, option] of injections) {
    it(`refuses ${name} with an InvalidOptionError naming ${option}`, () => {
      assert.throws(
        () => new SessionManager({ secret: SECRET, ...options }),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.code === 'INVALID_OPTION' &&
          error.message.includes(option),
      );
    });
  }
});
