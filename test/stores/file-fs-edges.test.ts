/**
 * FileStore's file-system edges, through the store's internal `fs` option: a close that fails
 * after a read changes nothing, after a write refuses the write (the data may not be on disk); a directory that can't be listed fails `clear()` with
 * StoreUnavailableError and is reported by a sweep; a quarantined entry that is a directory is
 * removed as a tree, one that refuses removal otherwise is reported and stays.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { entries, fsError, instrumented, plainName, setup } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

/** A store whose fs runs `hook` before each call while `state.on`. */
async function hooked(hook: (call: string, target: string) => void) {
  const state = { on: false };
  const t = await setup({
    fs: instrumented((call, target) => {
      if (state.on) hook(call, target);
    }),
  });
  return { ...t, state };
}

describe('FileStore fs edges', () => {
  it('a close that fails (EIO) after a read changes nothing; a write whose close fails is refused', async () => {
    const t = await hooked((call) => {
      if (call === 'close') throw fsError('EIO');
    });
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ n: 1 })), true);
    t.state.on = true;
    assert.equal((await t.store.get(id))?.data.n, 1);
    // A failed close of a written file may mean the data never reached the disk (NFS).
    await assert.rejects(
      t.store.update(id, { set: { n: 2 } }, Date.now() + HOUR),
      (error: unknown) => error instanceof StoreWriteError && /\(EIO\)/.test(error.message),
    );
    t.state.on = false;
    assert.equal((await t.store.get(id))?.data.n, 1);
    await t.done();
  });

  it("a directory that can't be listed (EACCES): clear() rejects with StoreUnavailableError, a sweep reports it", async () => {
    const t = await hooked((call) => {
      if (call === 'opendir') throw fsError('EACCES');
    });
    await t.store.create(generateSessionId(), record({ n: 1 }));
    t.state.on = true;
    const unlisted = (error: unknown) =>
      error instanceof StoreUnavailableError &&
      /could not list the FileStore directory \(EACCES\)/.test(error.message);
    await assert.rejects(t.store.clear(), unlisted);
    assert.equal(await t.store.cleanup(), 0);
    assert.ok(t.errors.some(unlisted));
    t.state.on = false;
    assert.equal((await entries(t.dir)).length, 1);
    await t.done();
  });

  it('a quarantined entry that is a directory is removed as a tree by clear()', async () => {
    const t = await hooked(() => {});
    const corrupt = join(t.dir, `${plainName(generateSessionId())}.corrupt`);
    await mkdir(corrupt);
    await writeFile(join(corrupt, 'inside'), 'x');
    await t.store.clear();
    assert.deepEqual(await entries(t.dir), []);
    await t.done();
  });

  it('a quarantined file whose removal fails otherwise (EBUSY) is reported and stays', async () => {
    const t = await hooked((call, target) => {
      if (call === 'unlink' && target.endsWith('.corrupt')) throw fsError('EBUSY');
    });
    const corrupt = join(t.dir, `${plainName(generateSessionId())}.corrupt`);
    await writeFile(corrupt, 'x');
    t.state.on = true;
    await assert.rejects(t.store.clear(), /could not remove 1 file/);
    assert.deepEqual(await entries(t.dir), [corrupt.slice(t.dir.length + 1)]);
    await t.done();
  });
});
