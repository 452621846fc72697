/**
 * FileStore reads of files it saw recently: served after one lstat while the file is unchanged,
 * and read again whenever anything on disk changed it (content, times, removal, the directory).
 */
import assert from 'node:assert/strict';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailableError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { plainName, setup } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

describe('FileStore: files seen recently', () => {
  it('a file rewritten on disk with the same size and mtime is read again', async () => {
    const t = await setup();
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ v: 'aaaa' }));
      assert.equal((await t.store.get(id))?.data.v, 'aaaa');
      assert.equal(await t.store.update(id, { set: { v: 'cccc' } }, Date.now() + HOUR), true);
      const file = join(t.dir, plainName(id));
      const before = await stat(file);
      const content = await readFile(file, 'utf8');
      await writeFile(file, content.replace('"cccc"', '"bbbb"'));
      await utimes(file, before.atime, before.mtime);
      const after = await stat(file);
      assert.equal(after.size, before.size);
      assert.equal(after.mtimeMs, before.mtimeMs);
      assert.equal((await t.store.get(id))?.data.v, 'bbbb');
      assert.equal(await t.store.update(id, { set: { w: 1 } }, Date.now() + HOUR), true);
      assert.deepEqual({ ...(await t.store.get(id))?.data }, { v: 'bbbb', w: 1 });
    } finally {
      await t.done();
    }
  });

  it('a file removed on disk reads as absent and is not recreated by an update', async () => {
    const t = await setup();
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ a: 1 }));
      assert.equal((await t.store.get(id))?.data.a, 1);
      await rm(join(t.dir, plainName(id)));
      assert.equal(await t.store.get(id), undefined);
      assert.equal(await t.store.update(id, { set: { a: 2 } }, Date.now() + HOUR), false);
      assert.equal(await t.store.get(id), undefined);
    } finally {
      await t.done();
    }
  });

  it('the directory replaced by a file: a read fails closed with StoreUnavailableError', async () => {
    const t = await setup();
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ a: 1 }));
      assert.equal((await t.store.get(id))?.data.a, 1);
      await rm(t.dir, { recursive: true });
      await writeFile(t.dir, 'not a directory');
      await assert.rejects(t.store.get(id), StoreUnavailableError);
    } finally {
      await rm(t.dir, { force: true });
      await t.done();
    }
  });

  it('each get hands out its own copy of the data', async () => {
    const t = await setup();
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ list: [1] }));
      await t.store.get(id);
      const first = await t.store.get(id);
      (first?.data.list as number[] | undefined)?.push(2);
      assert.deepEqual(first?.data.list, [1, 2]);
      assert.deepEqual((await t.store.get(id))?.data.list, [1]);
    } finally {
      await t.done();
    }
  });

  it('a get racing updates never brings back older content', async () => {
    const t = await setup();
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ n: 0 }));
      for (let n = 1; n <= 20; n++) {
        const [seen] = await Promise.all([
          t.store.get(id),
          t.store.update(id, { set: { n } }, Date.now() + HOUR),
        ]);
        assert.ok(seen?.data.n === n - 1 || seen?.data.n === n);
        assert.equal((await t.store.get(id))?.data.n, n);
      }
    } finally {
      await t.done();
    }
  });

  it('more sessions than it remembers, and sessions too large to remember, read correctly', async () => {
    const t = await setup();
    try {
      const ids = Array.from({ length: 2100 }, () => generateSessionId());
      for (const id of ids) await t.store.create(id, record({ id }));
      for (const id of ids) assert.equal((await t.store.get(id))?.data.id, id);
      const first = ids[0] as string;
      assert.equal(await t.store.update(first, { set: { x: 1 } }, Date.now() + HOUR), true);
      assert.equal((await t.store.get(first))?.data.x, 1);
      const big = generateSessionId();
      await t.store.create(big, record({ text: 'x'.repeat(6000) }));
      assert.equal(((await t.store.get(big))?.data.text as string | undefined)?.length, 6000);
      assert.equal(await t.store.update(big, { set: { y: 2 } }, Date.now() + HOUR), true);
      assert.equal((await t.store.get(big))?.data.y, 2);
    } finally {
      await t.done();
    }
  });

  it('with fsync: true, repeated updates of a session seen before all land', async () => {
    const t = await setup({ fsync: true });
    try {
      const id = generateSessionId();
      await t.store.create(id, record({ n: 0 }));
      assert.equal((await t.store.get(id))?.data.n, 0);
      for (let n = 1; n <= 3; n++) {
        assert.equal(await t.store.update(id, { set: { n } }, Date.now() + HOUR), true);
      }
      assert.equal((await t.store.get(id))?.data.n, 3);
    } finally {
      await t.done();
    }
  });
});
