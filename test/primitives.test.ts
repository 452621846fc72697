/**
 * Plain asserts on the building blocks: the signer (cookie-signature#40 regression set, secret
 * rotation), the cookie header parser, the cookie serializer, the data checks and session ids.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { findCookieValues, SessionCookie } from '../src/cookie.js';
import { assertJsonValue, assertValidKey } from '../src/data.js';
import {
  InvalidOptionError,
  InvalidSessionDataError,
  SessionError,
  SessionTooLargeError,
} from '../src/errors.js';
import { generateSessionId, isValidSessionId } from '../src/id.js';
import { Signer } from '../src/signer.js';

const VECTOR_SECRET = 'keyboard cat';
const VECTOR_ID = 'DJW_JaSWR-41-zW3df0G0g7HB8t5bwK4';
const VECTOR_COOKIE =
  's%3ADJW_JaSWR-41-zW3df0G0g7HB8t5bwK4.Mlxlz9E4Fec%2BzWdLz%2F1GwBnUpo9w1vQ2H2FDxz1GAOY';
const SECRET = 'primitives test secret, long enough: 0123456789';

function macOf(id: string, secret: string): string {
  return createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
}

describe('Signer: express-session format', () => {
  it('matches the express-session signed-cookie test vector', () => {
    const signed = new Signer([VECTOR_SECRET]).sign(VECTOR_ID);
    assert.equal(encodeURIComponent(signed), VECTOR_COOKIE);
    assert.equal(signed, decodeURIComponent(VECTOR_COOKIE));
  });

  it('is s: + id + . + unpadded standard base64 HMAC-SHA256', () => {
    const id = generateSessionId();
    const signed = new Signer([SECRET]).sign(id);
    assert.equal(signed, `s:${id}.${macOf(id, SECRET)}`);
    assert.ok(!signed.endsWith('='));
  });

  it('unsigns what it signed', () => {
    const signer = new Signer([SECRET]);
    const id = generateSessionId();
    assert.deepEqual(signer.unsign(signer.sign(id)), { id, renew: false });
    assert.deepEqual(new Signer([VECTOR_SECRET]).unsign(decodeURIComponent(VECTOR_COOKIE)), {
      id: VECTOR_ID,
      renew: false,
    });
  });

  it('accepts Buffer secrets, equivalent to the same string', () => {
    const id = generateSessionId();
    const fromString = new Signer([SECRET]).sign(id);
    const fromBuffer = new Signer([Buffer.from(SECRET)]).sign(id);
    assert.equal(fromBuffer, fromString);
    assert.deepEqual(new Signer([Buffer.from(SECRET)]).unsign(fromString), { id, renew: false });
  });
});

describe('Signer: remembers the values it verified', () => {
  it('verifies a value again after 10,000 others have pushed it out of its memory', () => {
    const signer = new Signer([SECRET]);
    const first = generateSessionId();
    const value = signer.sign(first);
    assert.deepEqual(signer.unsign(value), { id: first, renew: false });
    for (let i = 0; i < 10_000; i++) signer.unsign(signer.sign(generateSessionId()));
    assert.deepEqual(signer.unsign(value), { id: first, renew: false });
    const forged = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(signer.unsign(forged), undefined);
  });

  it('a value an older secret signed is reported for renewal every time', () => {
    const old = new Signer([SECRET]).sign(VECTOR_ID);
    const rotated = new Signer(['a newer secret, long enough: 9876543210', SECRET]);
    assert.deepEqual(rotated.unsign(old), { id: VECTOR_ID, renew: true });
    assert.deepEqual(rotated.unsign(old), { id: VECTOR_ID, renew: true });
  });
});

describe('Signer: rejects every malformed or forged value (cookie-signature#40 set)', () => {
  const signer = new Signer([SECRET]);
  const id = generateSessionId();
  const v = signer.sign(id);
  const mac = v.slice(v.lastIndexOf('.') + 1);
  const other = generateSessionId();
  const otherMac = macOf(other, SECRET);
  const flip = (c: string) => (c === 'A' ? 'B' : 'A');
  const cases: [string, string][] = [
    ['junk suffix', `${v}x`],
    ['junk prefix', `x${v}`],
    ['garbage. prefix', `garbage.${v}`],
    ['.junk suffix', `${v}.x`],
    ['second signature', `${v}.${mac}`],
    ['doubled separator', `s:${id}..${mac}`],
    ['truncated by one', v.slice(0, -1)],
    ['truncated to half', v.slice(0, v.length >> 1)],
    ['padded with =', `${v}=`],
    ['empty signature', `s:${id}.`],
    ['empty id', `s:.${mac}`],
    ['raw id', id],
    ['no s: prefix', v.slice(2)],
    ['wrong prefix', `S:${v.slice(2)}`],
    ['another id signature', `s:${id}.${otherMac}`],
    ['last char changed', v.slice(0, -1) + flip(v.at(-1)!)],
    ['first mac char changed', `s:${id}.${flip(mac[0]!)}${mac.slice(1)}`],
    ['base64url instead of base64', `s:${id}.${mac.replace(/\+/g, '-').replace(/\//g, '_')}x`],
    ['signed by another secret', new Signer(['another secret, also long: 987654321']).sign(id)],
    ['empty string', ''],
    ['only prefix', 's:'],
    ['only dot', 's:.'],
    ['NUL inside', `s:${id}\0.${mac}`],
  ];
  for (const [name, value] of cases) {
    it(`rejects ${name}`, () => {
      assert.equal(signer.unsign(value), undefined);
    });
  }

  it('rejects a mac with characters outside latin1 that map onto its bytes (exact match)', () => {
    // 'A' (0x41) and 'Ł' (U+0141) share the low byte; an exact verifier must not confuse them.
    const confusable = Array.from(mac, (c) => String.fromCharCode(0x100 + c.charCodeAt(0))).join(
      '',
    );
    assert.equal(signer.unsign(`s:${id}.${confusable}`), undefined);
    const oneChar = `s:${id}.${String.fromCharCode(0x100 + mac.charCodeAt(0))}${mac.slice(1)}`;
    assert.equal(signer.unsign(oneChar), undefined);
  });

  it('a correct signature for a base64url variant is still only accepted in base64 form', () => {
    const idWithPlus = Array.from({ length: 200 }, generateSessionId).find((x) =>
      /[+/]/.test(macOf(x, SECRET)),
    )!;
    const good = signer.sign(idWithPlus);
    assert.ok(signer.unsign(good));
    const urlSafe = good.replace(/\+/g, '-').replace(/\/(?=[^.]*$)/g, '_');
    assert.notEqual(urlSafe, good);
    assert.equal(signer.unsign(urlSafe), undefined);
  });
});

describe('Signer: secret rotation', () => {
  const oldSecret = 'the old secret, long enough for prod: 11111111';
  const newSecret = 'the new secret, long enough for prod: 22222222';
  const id = generateSessionId();

  it('signs with the first secret', () => {
    const rotated = new Signer([newSecret, oldSecret]);
    assert.equal(rotated.sign(id), new Signer([newSecret]).sign(id));
    assert.notEqual(rotated.sign(id), new Signer([oldSecret]).sign(id));
  });

  it('verifies with every secret and flags renew only for an older one', () => {
    const rotated = new Signer([newSecret, 'a middle secret, also long: 333333', oldSecret]);
    assert.deepEqual(rotated.unsign(new Signer([oldSecret]).sign(id)), { id, renew: true });
    assert.deepEqual(rotated.unsign(new Signer([newSecret]).sign(id)), { id, renew: false });
  });

  it('a signer without the old secret rejects its cookies', () => {
    assert.equal(new Signer([newSecret]).unsign(new Signer([oldSecret]).sign(id)), undefined);
  });
});

describe('findCookieValues', () => {
  const find = (header: string, name = 'sid', limit = 8) => findCookieValues(header, name, limit);

  it('finds the value among other pairs', () => {
    assert.deepEqual(find('a=1; sid=x; b=2'), ['x']);
    assert.deepEqual(find('sid=x'), ['x']);
    assert.deepEqual(find('a=1;sid=x;b=2'), ['x']);
  });

  it('returns nothing when absent', () => {
    assert.deepEqual(find(''), []);
    assert.deepEqual(find('a=1; b=2'), []);
    assert.deepEqual(find('sidx=1; xsid=2; sid_=3; s=4'), []);
  });

  it('keeps header order for duplicates, up to the limit', () => {
    assert.deepEqual(find('sid=1; a=0; sid=2; sid=3'), ['1', '2', '3']);
    assert.deepEqual(find('sid=1; sid=2; sid=3', 'sid', 2), ['1', '2']);
    assert.deepEqual(find(`${'sid=x; '.repeat(8000)}sid=last`).length, 8);
  });

  it('trims only SP and HTAB around names and values', () => {
    assert.deepEqual(find(' \tsid \t= \tx \t; a=1'), ['x']);
    assert.deepEqual(find('\u00A0sid=x'), []);
    assert.deepEqual(find('\u2000sid=x'), []);
    assert.deepEqual(find('\u3000sid=x'), []);
    assert.deepEqual(find('\nsid=x'), []);
    assert.deepEqual(find('sid\u00A0=x'), []);
    assert.deepEqual(find('sid=\u00A0x'), ['\u00A0x']);
  });

  it('compares names byte for byte: case matters, names are never decoded', () => {
    assert.deepEqual(find('SID=x; Sid=y'), []);
    assert.deepEqual(find('s%69d=x'), []);
    assert.deepEqual(find('__host-sid=x', '__Host-sid'), []);
    assert.deepEqual(find('__Host-sid=x', '__Host-sid'), ['x']);
  });

  it('unquotes a quoted value, once', () => {
    assert.deepEqual(find('sid="abc"'), ['abc']);
    assert.deepEqual(find('sid=""'), ['']);
    assert.deepEqual(find('sid="'), ['"']);
    assert.deepEqual(find('sid="abc'), ['"abc']);
    assert.deepEqual(find('sid=""abc""'), ['"abc"']);
  });

  it('URL-decodes values with % and keeps malformed escapes raw', () => {
    assert.deepEqual(find('sid=s%3Aabc.d%2Be'), ['s:abc.d+e']);
    assert.deepEqual(find('sid=%E0%A4%A'), ['%E0%A4%A']);
    assert.deepEqual(find('sid=%'), ['%']);
    assert.deepEqual(find('sid=abc%00def'), ['abc\0def']);
    assert.deepEqual(find('sid=a+b'), ['a+b']);
  });

  it('ignores pairs without = and empty pairs', () => {
    assert.deepEqual(find('a=1; junk ; sid=2'), ['2']);
    assert.deepEqual(find('sid; sid=3'), ['3']);
    assert.deepEqual(find(';;;;sid=4;;;;'), ['4']);
    assert.deepEqual(find('sid='), ['']);
    assert.deepEqual(find('sid=a=b'), ['a=b']);
  });

  it('handles cookie names that are Object.prototype members', () => {
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      assert.deepEqual(find(`${name}=1; sid=2`, name), ['1']);
      assert.deepEqual(find(`${name}=1; sid=2`), ['2']);
    }
    assert.equal(({} as Record<string, unknown>).sid, undefined);
  });

  it('never throws on random input', () => {
    const alphabet = 'sid=;% "\t\u00A0ab%E0%A4\\,\0';
    for (let n = 0; n < 3000; n++) {
      let header = '';
      const length = Math.floor(Math.random() * 60);
      for (let i = 0; i < length; i++)
        header += alphabet[Math.floor(Math.random() * alphabet.length)];
      const values = find(header);
      assert.ok(Array.isArray(values));
    }
  });

  it('handles hostile Cookie headers (many pairs, long escapes) without throwing', () => {
    const headers = [
      'a=b; '.repeat(3000),
      `sid=${'%'.repeat(15_000)}`,
      'sid=x; '.repeat(8000),
      ';'.repeat(5000),
      `sid${';'.repeat(5000)}`,
      `sid="${'a'.repeat(15_000)}`,
      'a=1; junk ; b=2; '.repeat(1000),
    ];
    for (const header of headers) assert.doesNotThrow(() => find(header));
  });

  it('is linear in the header length (no rescans for pairs without =)', () => {
    // A pair without '=' must not make the parser search the rest of the header again. With
    // 2 MB headers a linear scan takes milliseconds and a quadratic one minutes, so the bound
    // below holds on any loaded machine and still catches the regression.
    const headers = [
      `sid${';'.repeat(2_000_000)}`,
      `sid${';'.repeat(2_000_000)}a=b`,
      `sid=1; ${'junk;'.repeat(400_000)}x=1`,
    ];
    for (const header of headers) {
      const start = performance.now();
      find(header);
      const elapsed = performance.now() - start;
      assert.ok(elapsed < 5000, `parsing a 2 MB header took ${elapsed.toFixed(0)} ms`);
    }
  });
});

describe('SessionCookie: serialization', () => {
  const expiresAt = Date.UTC(2030, 0, 2, 3, 4, 5);
  const expires = 'Wed, 02 Jan 2030 03:04:05 GMT';

  it('defaults: Path=/, HttpOnly, SameSite=Lax, Expires, URL-encoded value', () => {
    const cookie = new SessionCookie('sid');
    assert.equal(cookie.name, 'sid');
    assert.equal(cookie.secure, 'auto');
    assert.equal(
      cookie.serialize('s:abc.d+e/f', expiresAt, false),
      `sid=s%3Aabc.d%2Be%2Ff; Path=/; HttpOnly; SameSite=Lax; Expires=${expires}`,
    );
    assert.equal(
      cookie.serialize('s:abc.def', expiresAt, true),
      `sid=s%3Aabc.def; Path=/; HttpOnly; SameSite=Lax; Expires=${expires}; Secure`,
    );
  });

  it('produces the test-vector cookie value', () => {
    const line = new SessionCookie('connect.sid').serialize(
      new Signer([VECTOR_SECRET]).sign(VECTOR_ID),
      expiresAt,
      false,
    );
    assert.ok(line.startsWith(`connect.sid=${VECTOR_COOKIE};`), line);
  });

  it('clears with an empty value and the epoch', () => {
    assert.equal(
      new SessionCookie('sid').serializeCleared(false),
      'sid=; Path=/; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
    );
    assert.match(new SessionCookie('sid').serializeCleared(true), /; Secure$/);
  });

  it('writes every configured attribute', () => {
    const cookie = new SessionCookie('app.sid', {
      domain: 'example.com',
      path: '/app',
      sameSite: 'strict',
      httpOnly: false,
      partitioned: true,
      priority: 'high',
      secure: true,
    });
    assert.equal(cookie.secure, true);
    assert.equal(
      cookie.serialize('v', expiresAt, true),
      `app.sid=v; Path=/app; Domain=example.com; SameSite=Strict; Partitioned; Priority=High; Expires=${expires}; Secure`,
    );
    assert.doesNotMatch(
      new SessionCookie('a', { sameSite: false }).serialize('v', 0, false),
      /SameSite/,
    );
  });

  it('forces Secure for __Host-, __Secure- and SameSite=None', () => {
    assert.equal(new SessionCookie('__Host-sid').secure, true);
    assert.equal(new SessionCookie('__Secure-sid').secure, true);
    assert.equal(new SessionCookie('sid', { sameSite: 'none' }).secure, true);
    assert.match(
      new SessionCookie('sid', { sameSite: 'none' }).serialize('v', 0, true),
      /SameSite=None/,
    );
  });
});

describe('SessionCookie: validation', () => {
  const bad: [string, unknown, unknown][] = [
    ['name with ;', 'a;b', undefined],
    ['name with =', 'a=b', undefined],
    ['name with space', 'a b', undefined],
    ['name with CR/LF', 'sid\r\nSet-Cookie: x=1', undefined],
    ['empty name', '', undefined],
    ['non-ASCII name', 'sïd', undefined],
    ['non-string name', 42, undefined],
    ['null options', 'sid', null],
    ['path with ;', 'sid', { path: '/;x' }],
    ['path with CR/LF', 'sid', { path: '/\r\nx' }],
    ['relative path', 'sid', { path: 'x' }],
    ['non-string path', 'sid', { path: 1 }],
    ['domain with ;', 'sid', { domain: 'example.com; Secure' }],
    ['domain with CR/LF', 'sid', { domain: 'example.com\r\nx' }],
    ['domain with space', 'sid', { domain: 'exa mple.com' }],
    ['domain with a port', 'sid', { domain: 'example.com:80' }],
    ['secure as string', 'sid', { secure: 'yes' }],
    ['httpOnly as string', 'sid', { httpOnly: 'true' }],
    ['sameSite in capitals', 'sid', { sameSite: 'Lax' }],
    ['sameSite unknown', 'sid', { sameSite: 'always' }],
    ['sameSite none without secure', 'sid', { sameSite: 'none', secure: false }],
    ['partitioned as string', 'sid', { partitioned: 'yes' }],
    ['priority unknown', 'sid', { priority: 'urgent' }],
    ['__Host- with a domain', '__Host-sid', { domain: 'example.com' }],
    ['__Host- with a path', '__Host-sid', { path: '/app' }],
    ['__Host- without secure', '__Host-sid', { secure: false }],
    ['__Secure- without secure', '__Secure-sid', { secure: false }],
  ];
  for (const [name, cookieName, options] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => new SessionCookie(cookieName, options as never),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.code === 'INVALID_OPTION' &&
          error.message.startsWith('session-store-js: '),
      );
    });
  }

  it('accepts the RFC 6265 token characters and a leading-dot domain', () => {
    assert.equal(new SessionCookie("a!#$%&'*+-.^_`|~9").name, "a!#$%&'*+-.^_`|~9");
    assert.doesNotThrow(() => new SessionCookie('sid', { domain: '.example.com' }));
    assert.doesNotThrow(() => new SessionCookie('__Host-sid', { secure: 'auto', path: '/' }));
  });
});

describe('assertValidKey', () => {
  it('accepts ordinary keys up to 256 characters', () => {
    for (const key of ['a', 'user.id', 'x'.repeat(256), 'toString', 'hasOwnProperty', '😀']) {
      assert.doesNotThrow(() => assertValidKey(key));
    }
  });

  it('rejects reserved, empty, long and non-string keys', () => {
    const keys: unknown[] = [
      '__proto__',
      'constructor',
      'prototype',
      '',
      'x'.repeat(257),
      'x'.repeat(10_000),
      1,
      Symbol('k'),
      null,
      undefined,
      {},
    ];
    for (const key of keys) {
      assert.throws(() => assertValidKey(key), InvalidSessionDataError, String(key as never));
    }
  });
});

describe('assertJsonValue', () => {
  const MAX = 262_144;

  it('accepts JSON values', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1.5,
      'text',
      '\uD800',
      [],
      [1, 'a', null, [{}]],
      { a: { b: [1, 2, { c: 'd' }] } },
      Object.create(null),
      { toString: 'fine', hasOwnProperty: 1 },
    ];
    for (const value of values) assert.doesNotThrow(() => assertJsonValue(value, MAX));
  });

  it('rejects what JSON cannot round-trip, with InvalidSessionDataError', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const cyclicArray: unknown[] = [];
    cyclicArray.push(cyclicArray);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    let deepArray: unknown = 1;
    for (let i = 0; i < 100_000; i++) deepArray = [deepArray];
    class Point {
      x = 1;
    }
    const holey: unknown[] = [1];
    holey[2] = 3;
    const values: [string, unknown][] = [
      ['undefined', undefined],
      ['BigInt', 10n],
      ['function', () => 1],
      ['Symbol', Symbol('s')],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['Date', new Date()],
      ['Map', new Map([[1, 2]])],
      ['Set', new Set([1])],
      ['RegExp', /x/],
      ['Buffer', Buffer.from('x')],
      ['Uint8Array', new Uint8Array(2)],
      ['class instance', new Point()],
      ['boxed string', Object('x')],
      ['circular object', circular],
      ['circular array', cyclicArray],
      ['nested undefined', { a: { b: undefined } }],
      ['undefined in an array', [1, undefined]],
      ['hole in an array', holey],
      ['nested BigInt', { a: [1n] }],
      ['nested function', { toJSON: () => 'x' }],
      ['symbol key', { [Symbol('k')]: 1 }],
      ['nested __proto__ key', JSON.parse('{"a":{"__proto__":{"isAdmin":true}}}')],
      ['nested constructor key', { a: { constructor: 1 } }],
      ['100k-deep object', deep],
      ['100k-deep array', deepArray],
    ];
    for (const [name, value] of values) {
      assert.throws(
        () => assertJsonValue(value, MAX),
        (error: unknown) =>
          error instanceof InvalidSessionDataError && error.code === 'INVALID_SESSION_DATA',
        name,
      );
    }
  });

  it('accepts the same value twice in a tree (a repeat is not a cycle)', () => {
    const shared = { a: 1 };
    assert.doesNotThrow(() => assertJsonValue({ x: shared, y: shared, z: [shared, shared] }, MAX));
  });

  it('rejects values over maxBytes with SessionTooLargeError', () => {
    assert.throws(() => assertJsonValue('x'.repeat(1001), 1000), SessionTooLargeError);
    assert.throws(
      () =>
        assertJsonValue(
          Array.from({ length: 200 }, () => 'abcdef'),
          1000,
        ),
      SessionTooLargeError,
    );
    assert.doesNotThrow(() => assertJsonValue('x'.repeat(990), 1000));
    const error = (() => {
      try {
        assertJsonValue('x'.repeat(2000), 1000);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof SessionError);
    assert.equal((error as SessionError).code, 'SESSION_TOO_LARGE');
  });

  it('measures the limit in bytes of JSON, not in characters', () => {
    // 450–500 characters, but 3 bytes of UTF-8 or 2–6 bytes of JSON escape each.
    for (const value of ['€'.repeat(450), '\u0001'.repeat(450), { k: '"'.repeat(500) }]) {
      const bytes = Buffer.byteLength(JSON.stringify(value));
      assert.ok(bytes > 1000);
      assert.throws(() => assertJsonValue(value, 1000), SessionTooLargeError, `${bytes} bytes`);
    }
    // the same for object keys
    for (const value of [{ ['\u0001'.repeat(170)]: 1 }, { ['€'.repeat(400)]: 1 }]) {
      const bytes = Buffer.byteLength(JSON.stringify(value));
      assert.ok(bytes > 1000);
      assert.throws(
        () => assertJsonValue(value, 1000),
        SessionTooLargeError,
        `key: ${bytes} bytes`,
      );
    }
    const numbers = Array.from({ length: 60 }, () => -1.2345678901234e-300);
    assert.ok(Buffer.byteLength(JSON.stringify(numbers)) > 1000);
    assert.throws(() => assertJsonValue(numbers, 1000), SessionTooLargeError);
  });
});

describe('session ids', () => {
  it('are 32 characters of base64url', () => {
    for (let i = 0; i < 100; i++) {
      const id = generateSessionId();
      assert.equal(id.length, 32);
      assert.match(id, /^[A-Za-z0-9_-]{32}$/);
      assert.ok(isValidSessionId(id));
    }
  });

  it('carry no meaning: under a frozen clock, 1,000 ids share no prefix beyond chance', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
    const ids = Array.from({ length: 1000 }, generateSessionId);
    const prefixes = new Map<string, number>();
    for (const id of ids) prefixes.set(id.slice(0, 3), (prefixes.get(id.slice(0, 3)) ?? 0) + 1);
    // 1,000 draws over 64³ = 262,144 prefixes: a prefix repeated 4 times is vanishingly unlikely
    assert.ok(Math.max(...prefixes.values()) < 4);
    for (const id of ids) {
      assert.ok(!id.includes(String(Date.now()).slice(0, 6)));
      assert.ok(!id.includes(Date.now().toString(36).slice(0, 5)));
    }
  });

  it('are unique over 1,000 draws', () => {
    const ids = new Set(Array.from({ length: 1000 }, generateSessionId));
    assert.equal(ids.size, 1000);
  });

  it('validation accepts 22 to 64 base64url characters only', () => {
    assert.ok(isValidSessionId('a'.repeat(22)));
    assert.ok(isValidSessionId('a'.repeat(64)));
    assert.ok(isValidSessionId(VECTOR_ID));
    const bad: unknown[] = [
      'a'.repeat(21),
      'a'.repeat(65),
      '',
      `${'a'.repeat(30)}.`,
      `${'a'.repeat(30)}/`,
      `${'a'.repeat(30)}\\`,
      `${'a'.repeat(30)}\0`,
      `${'a'.repeat(30)}\n`,
      `${'a'.repeat(30)}=`,
      `${'a'.repeat(30)}+`,
      '../../../../etc/passwd/aaaaaaaa',
      '__proto__',
      123,
      null,
      undefined,
      {},
      ['a'.repeat(32)],
    ];
    for (const id of bad) assert.equal(isValidSessionId(id), false, String(id));
  });
});
