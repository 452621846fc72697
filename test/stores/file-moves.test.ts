/**
 * FileStore.move beyond the compliance suite: into an existing session (a login bound to a
 * user fills the session it just created) or into one that is not there; from a file that is
 * invalid (moved aside, nothing moved); refused times; a forward that can't be written (the
 * move fails, the new file goes, the old session stays); and moves, destroys and key removals
 * as the first call of a store on an existing directory.
 */
import assert from 'node:assert/strict';
import { lstat, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { InvalidSessionDataError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import type { SessionMove } from '../../src/types.js';
import { entries, fsError, instrumented, plainName, setup } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

const moveOf = (extra: Partial<SessionMove> = {}): SessionMove => {
  const now = Date.now();
  return {
    keep: true,
    createdAt: now,
    expiresAt: now + HOUR,
    forwardUntil: now + 10_000,
    ...extra,
  };
};

describe('FileStore.move', () => {
  it('into an existing session: the kept keys are added to it; into a missing one: nothing moves', async () => {
    const t = await setup();
    const [oldId, newId] = [generateSessionId(), generateSessionId()];
    await t.store.create(oldId, record({ cart: 3, user: 'ada' }));
    await t.store.create(newId, record({ fresh: true }));
    const moved = await t.store.move(oldId, newId, moveOf({ keep: ['cart'], into: 'existing' }));
    assert.equal(moved.status, 'moved');
    assert.deepEqual({ ...(await t.store.get(newId))?.data }, { fresh: true, cart: 3 });
    assert.equal(await t.store.get(oldId), undefined);

    const other = generateSessionId();
    await t.store.create(other, record({ cart: 4 }));
    const missing = await t.store.move(other, generateSessionId(), moveOf({ into: 'existing' }));
    assert.equal(missing.status, 'missing');
    await t.done();
  });

  it('from an invalid file: moved aside and reported, nothing moved', async () => {
    const t = await setup();
    const [oldId, newId] = [generateSessionId(), generateSessionId()];
    const file = t.store._getFilePath(oldId);
    await writeFile(file, '{broken', { mode: 0o600 });
    assert.equal((await t.store.move(oldId, newId, moveOf())).status, 'missing');
    assert.ok((await lstat(`${file}.corrupt`)).isFile());
    assert.equal(await t.store.get(newId), undefined);
    assert.equal(t.errors.length, 1);
    await t.done();
  });

  it('refuses times that are not finite, non-negative numbers', async () => {
    const t = await setup();
    const [oldId, newId] = [generateSessionId(), generateSessionId()];
    await t.store.create(oldId, record({ a: 1 }));
    for (const bad of [{ createdAt: Number.NaN }, { forwardUntil: -1 }]) {
      await assert.rejects(t.store.move(oldId, newId, moveOf(bad)), InvalidSessionDataError);
    }
    assert.equal((await t.store.get(oldId))?.data.a, 1);
    await t.done();
  });

  it("a forward that can't be written: StoreWriteError, the new file is removed, the old session stays", async () => {
    const failing = { on: false };
    const fs = instrumented((call, target) => {
      if (failing.on && call === 'open' && target.includes('.moved')) throw fsError('ENOSPC');
    });
    const t = await setup({ fs });
    const [oldId, newId] = [generateSessionId(), generateSessionId()];
    await t.store.create(oldId, record({ user: 'ada' }));
    failing.on = true;
    await assert.rejects(
      t.store.move(oldId, newId, moveOf()),
      (error: unknown) => error instanceof StoreWriteError && /ENOSPC/.test(error.message),
    );
    failing.on = false;
    assert.equal(await t.store.get(newId), undefined);
    assert.equal((await t.store.get(oldId))?.data.user, 'ada');
    assert.deepEqual(await entries(t.dir), [plainName(oldId)]);
    await t.done();
  });
});

describe('FileStore: the first call of a store on an existing directory', () => {
  it('move, destroy and an update that only removes keys each prepare the directory first', async () => {
    const t = await setup();
    const [a, b, c] = [generateSessionId(), generateSessionId(), generateSessionId()];
    await t.store.create(a, record({ user: 'ada' }));
    await t.store.create(b, record({ user: 'bob' }));
    await t.store.create(c, record({ user: 'cy', cart: 1 }));

    const mover = new FileStore({ path: t.dir });
    const newId = generateSessionId();
    assert.equal((await mover.move(a, newId, moveOf())).status, 'moved');
    assert.equal((await mover.get(newId))?.data.user, 'ada');
    await mover.close();

    const destroyer = new FileStore({ path: t.dir });
    await destroyer.destroy(b);
    assert.equal(await destroyer.get(b), undefined);
    await destroyer.close();

    const updater = new FileStore({ path: t.dir });
    assert.equal(await updater.update(c, { unset: ['cart'] }, Date.now() + HOUR), true);
    assert.deepEqual({ ...(await updater.get(c))?.data }, { user: 'cy' });
    await updater.close();
    await t.done();
  });
});
