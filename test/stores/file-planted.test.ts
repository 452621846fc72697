/**
 * FileStore against entries planted in its directory while it runs: a directory under a session
 * file's name (quarantined, and then removable by `clear()` and sweeps), and the directory
 * itself swapped for a symlink (never written through).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSessionId } from '../../src/id.js';
import { entries, plainName, removeDir, setup, tempDir } from '../helpers/file-store.js';
import { record } from '../helpers/records.js';

describe('FileStore: a directory planted under a session file name', () => {
  it('is quarantined, and clear() then removes the quarantined directory', async () => {
    const fx = await setup();
    try {
      const id = generateSessionId();
      const planted = join(fx.dir, plainName(id));
      await mkdir(join(planted, 'nested'), { recursive: true });
      await writeFile(join(planted, 'nested', 'junk'), 'x');
      assert.equal(await fx.store.get(id), undefined);
      assert.ok((await stat(`${planted}.corrupt`)).isDirectory());
      await fx.store.clear();
      assert.deepEqual(await entries(fx.dir), []);
    } finally {
      await fx.done();
    }
  });

  it('a second one is quarantined over the first quarantined directory, with no write error', async () => {
    const fx = await setup();
    try {
      const id = generateSessionId();
      const planted = join(fx.dir, plainName(id));
      await mkdir(join(planted, 'first'), { recursive: true });
      assert.equal(await fx.store.get(id), undefined);
      await mkdir(join(planted, 'second'), { recursive: true });
      assert.equal(await fx.store.get(id), undefined);
      assert.deepEqual(await readdir(`${planted}.corrupt`), ['second']);
      assert.deepEqual(
        fx.errors.map((e) => /moved an invalid session file aside/.test(e.message)),
        [true, true],
      );
      // A file planted next is quarantined over the directory too.
      await writeFile(planted, 'not json');
      assert.equal(await fx.store.get(id), undefined);
      assert.ok((await stat(`${planted}.corrupt`)).isFile());
      await fx.store.clear();
      assert.deepEqual(await entries(fx.dir), []);
    } finally {
      await fx.done();
    }
  });
});

describe('FileStore: the directory swapped for a symlink while the store runs', () => {
  it('a new session is refused and nothing is written where the symlink points', async () => {
    const fx = await setup();
    const elsewhere = await tempDir('ssjs-file-elsewhere-');
    try {
      const first = generateSessionId();
      assert.equal(await fx.store.create(first, record({ user: 'ada' })), true);
      await rename(fx.dir, `${fx.dir}.old`);
      await symlink(elsewhere, fx.dir);
      await assert.rejects(fx.store.create(generateSessionId(), record({ user: 'eve' })), {
        code: 'INVALID_OPTION',
      });
      assert.deepEqual(await readdir(elsewhere), []);
    } finally {
      await fx.done();
      await removeDir(`${fx.dir}.old`);
      await removeDir(elsewhere);
    }
  });
});
