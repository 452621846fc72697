/**
 * How a refused option value is shown: by its kind (a function, an array, an object of a class, a
 * symbol), never by its content, which may hold a secret or a client with credentials; a
 * choice option lists every accepted value; a user id that is not a non-empty string is refused
 * by its kind, with the fix for numeric ids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidSessionDataError, MemoryStore, SessionManager } from '../src/index.js';
import { SECRET } from './helpers/harness.js';
import { assertRefused } from './helpers/refusal.js';

class Credentials {
  password = 'hunter2';
}

describe('option refusals show the kind of value, not its content', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a function', () => 3600, /, got a function$/],
    ['an array', [3600], /, got an array$/],
    ['an object of a class', new Credentials(), /, got an object \(Credentials\)$/],
    ['a plain object', { seconds: 3600 }, /, got an object$/],
    ['a null-prototype object', Object.create(null), /, got an object$/],
    ['a symbol', Symbol('maxAge'), /, got symbol$/],
  ];
  for (const [name, value, shown] of cases) {
    it(`maxAge given ${name}`, () => {
      assertRefused(
        () => new SessionManager({ secret: SECRET, maxAge: value as number }),
        'maxAge',
        shown,
      );
    });
  }

  it('never shows the content of an object', () => {
    assertRefused(
      () => new SessionManager({ secret: SECRET, maxAge: new Credentials() as never }),
      'maxAge',
      /^(?!.*hunter2)/,
    );
  });
});

describe('choice options list every accepted value', () => {
  it('renewOnWrite', () => {
    assertRefused(
      () => new SessionManager({ secret: SECRET, renewOnWrite: 'never' as never }),
      'renewOnWrite',
      /must be 'always' or 'touchAfter', got "never"$/,
    );
  });

  it("MemoryStore's whenFull", () => {
    assertRefused(
      () => new MemoryStore({ whenFull: 'drop' as never }),
      'whenFull',
      /must be 'evict-oldest' or 'reject', got "drop"$/,
    );
  });
});

describe('user ids are refused by kind, naming the fix', () => {
  for (const [name, value, shown] of [
    ['null', null, /got null/],
    ['a number', 42, /got number\); convert numeric ids with String\(id\)/],
    ['an array', ['ada'], /got an array/],
    ['an empty string', '', /got a string of 0 characters/],
  ] as const) {
    it(`listUserSessions(${name})`, async () => {
      const manager = new SessionManager({ secret: SECRET, store: new MemoryStore() });
      await assert.rejects(
        manager.listUserSessions(value as unknown as string),
        (error: unknown) => error instanceof InvalidSessionDataError && shown.test(error.message),
      );
      await manager.close();
    });
  }
});
