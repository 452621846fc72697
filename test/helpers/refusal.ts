/** The one shape of an option refusal: a typed error whose message names the refused option. */
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../../src/errors.js';

/**
 * Asserts that `build` throws `InvalidOptionError` (code `INVALID_OPTION`) whose message reads
 * `session-store-js: <option> must be …, got …`; `detail`, when given, must match it too.
 */
export function assertRefused(build: () => unknown, option: string, detail?: RegExp): void {
  assert.throws(build, (error: unknown) => {
    assert.ok(error instanceof InvalidOptionError, `not an InvalidOptionError: ${String(error)}`);
    assert.equal(error.code, 'INVALID_OPTION');
    const head = `session-store-js: ${option} must be `;
    assert.ok(error.message.startsWith(head), `expected "${head}…", got: ${error.message}`);
    assert.match(error.message, /, got /);
    if (detail) assert.match(error.message, detail);
    return true;
  });
}
