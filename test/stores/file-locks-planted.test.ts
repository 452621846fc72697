/**
 * FileStore with `multiProcess: true` and lock files it did not write: one that is not a lock
 * (a directory, JSON of another shape, more than a page) is judged by its age, broken once
 * stale and the write goes through; a fresh unreadable one is waited for, and past the lock
 * timeout the write fails with StoreUnavailableError instead of hanging, the session intact.
 */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailableError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { plainName, setup } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

/** Makes `path` look written `ageMs` ago. */
async function age(path: string, ageMs: number): Promise<void> {
  const seconds = (Date.now() - ageMs) / 1000;
  await utimes(path, seconds, seconds);
}

describe('FileStore multiProcess: planted lock files', () => {
  const planted: Array<[string, (path: string) => Promise<void>]> = [
    ['a directory', (path) => mkdir(path)],
    ['JSON of another shape', (path) => writeFile(path, '{"hello":"world"}')],
    ['more than a page', (path) => writeFile(path, 'x'.repeat(5000))],
  ];
  for (const [what, plant] of planted) {
    it(`${what}, older than the stale time: broken, and the write goes through`, async () => {
      const t = await setup({ multiProcess: true });
      const id = generateSessionId();
      assert.equal(await t.store.create(id, record({ n: 1 })), true);
      const lock = join(t.dir, `${plainName(id)}.lock`);
      await plant(lock);
      await age(lock, 120_000);
      assert.equal(await t.store.update(id, { set: { n: 2 } }, Date.now() + HOUR), true);
      assert.equal((await t.store.get(id))?.data.n, 2);
      await t.done();
    });
  }

  it('a fresh unreadable lock is waited for; past the lock timeout the write fails, the session intact', async () => {
    const t = await setup({ multiProcess: true });
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ n: 1 })), true);
    const lock = join(t.dir, `${plainName(id)}.lock`);
    await writeFile(lock, '');
    await assert.rejects(
      t.store.update(id, { set: { n: 2 } }, Date.now() + HOUR),
      (error: unknown) =>
        error instanceof StoreUnavailableError &&
        /timed out waiting for a session lock/.test(error.message),
    );
    assert.equal((await t.store.get(id))?.data.n, 1);
    await t.done();
  });
});
