/**
 * The secret option: what is refused (naming the option, never echoing a secret), what only
 * warns, and what is accepted. The other options' refusals are tabled in http-core.test.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { InvalidOptionError, SessionManager } from '../src/index.js';
import { OLD_SECRET, SECRET, WEAK_SECRET } from './helpers/harness.js';
import { assertRefused } from './helpers/refusal.js';

const run = promisify(execFile);
const entry = pathToFileURL(resolve(import.meta.dirname, '../src/index.ts')).href;

/** Sets NODE_ENV for the duration of `fn`. */
function withNodeEnv(value: string, fn: () => void): void {
  const previous = process.env.NODE_ENV;
  process.env.NODE_ENV = value;
  try {
    fn();
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = previous;
  }
}

describe('option: secret', () => {
  it('a short secret outside production warns once per process, without showing the secret', async () => {
    // In a fresh process: the warning is once per process, so any earlier manager would hide it.
    const script = `
      const { SessionManager } = await import(${JSON.stringify(entry)});
      const warnings = [];
      process.on('warning', (w) => { if (w.code === 'SESSION_STORE_WEAK_SECRET') warnings.push(w.message); });
      await new SessionManager({ secret: ${JSON.stringify(WEAK_SECRET)} }).close();
      await new SessionManager({ secret: 'another-short-one' }).close();
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify(warnings));
    `;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, NODE_ENV: 'development' } },
    );
    const warnings = JSON.parse(stdout) as string[];
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^session-store-js: a secret shorter than 32 characters/);
    assert.ok(!warnings[0]!.includes(WEAK_SECRET));
  });

  it('a short secret is refused under NODE_ENV=production, naming secret, never showing it', () => {
    withNodeEnv('production', () => {
      for (const secret of [WEAK_SECRET, 'x'.repeat(31), [SECRET, 'weak old one']]) {
        assertRefused(() => new SessionManager({ secret: secret as string }), 'secret');
        assert.throws(
          () => new SessionManager({ secret: secret as string }),
          (error: unknown) =>
            error instanceof InvalidOptionError &&
            !error.message.includes(WEAK_SECRET) &&
            !error.message.includes('weak old one') &&
            !error.message.includes('x'.repeat(31)),
        );
      }
      void new SessionManager({ secret: 'y'.repeat(32) }).close();
    });
  });

  const missing: [string, unknown][] = [
    ['undefined', undefined],
    ['empty string', ''],
    ['empty array', []],
    ['array with an empty string', [SECRET, '']],
    ['number', 1234567890123456],
    ['object', { key: SECRET }],
    ['null', null],
    ['array with a number', [SECRET, 5]],
    ['empty Buffer', Buffer.alloc(0)],
  ];
  for (const [name, secret] of missing) {
    it(`refuses a secret that is ${name}, naming secret and saying how to make one`, () => {
      assertRefused(
        () => new SessionManager({ secret: secret as string }),
        'secret',
        /randomBytes/,
      );
      assert.throws(
        () => new SessionManager({ secret: secret as string }),
        (error: unknown) => error instanceof Error && !error.message.includes(SECRET),
      );
    });
  }

  it('accepts a Buffer and an array of secrets', async () => {
    await new SessionManager({ secret: randomBytes(32) }).close();
    await new SessionManager({ secret: [SECRET, Buffer.from(OLD_SECRET)] }).close();
  });
});
