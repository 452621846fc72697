/**
 * FileStore on file systems that behave unlike ext4, through the store's internal `fs` option:
 * no hard links (EPERM on link), directories that can't be fsync-ed, an error without a code, a
 * session file that appears between the check and the publish, forwards that can't be opened,
 * quarantine renames that fail, and a umask that strips the owner's bits. Each either works as
 * on ext4 or fails with a typed error naming the fs code, never with a lost or stray file.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file/file-store.js';
import type { FsHook } from '../helpers/file-store.js';
import {
  entries,
  fsError,
  instrumented,
  plainContent,
  plainName,
  removeDir,
  tempDir,
  writeRawSession,
} from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

/** A store on a fresh temp dir whose fs runs `hook` before every call while `hooked.on`. */
async function hooked(hook: FsHook, options: FileStoreOptions = {}) {
  const dir = await tempDir();
  const state = { on: true };
  const errors: Error[] = [];
  const fs = instrumented((call, target) => {
    if (state.on) hook(call, target);
  });
  const store = new FileStore({ path: dir, fs, onError: (e) => errors.push(e), ...options });
  await store.ensureDirectory();
  return {
    dir,
    store,
    state,
    errors,
    async done() {
      await store.close();
      await removeDir(dir);
    },
  };
}

const leftovers = async (dir: string) =>
  (await entries(dir)).filter((name) => !/^[0-9a-f]{64}\.json$/.test(name));

describe('FileStore on unusual file systems', () => {
  it('without hard links (link fails with EPERM): create publishes by rename, once, and refuses a second create', async () => {
    const t = await hooked((call) => {
      if (call === 'link') throw fsError('EPERM');
    });
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    assert.equal(await t.store.create(id, record({ a: 2 })), false);
    assert.equal((await t.store.get(id))?.data.a, 1);
    assert.deepEqual(await leftovers(t.dir), []);
    await t.done();
  });

  it('a link that fails otherwise (EIO): create rejects with StoreWriteError, no file left', async () => {
    const t = await hooked((call) => {
      if (call === 'link') throw fsError('EIO');
    });
    const id = generateSessionId();
    await assert.rejects(
      t.store.create(id, record({ a: 1 })),
      (error: unknown) => error instanceof StoreWriteError && /EIO/.test(error.message),
    );
    assert.deepEqual(await entries(t.dir), []);
    await t.done();
  });

  it('a live session file that appears just before the publish (another process) wins: create reports a collision', async () => {
    const id = generateSessionId();
    const theirs = plainContent(id, record({ theirs: true }));
    let planted = false;
    const t = await hooked((call, target) => {
      if (call === 'link' && !planted) {
        planted = true;
        writeFileSync(join(target, '..', plainName(id)), theirs);
      }
    });
    assert.equal(await t.store.create(id, record({ mine: true })), false);
    assert.deepEqual(await entries(t.dir), [plainName(id)]);
    assert.equal(readFileSync(join(t.dir, plainName(id)), 'utf8'), theirs);
    assert.equal((await t.store.get(id))?.data.theirs, true);
    await t.done();
  });

  it('with fsync, a directory that cannot be fsync-ed (EINVAL) is skipped and the write stands', async () => {
    const t = await hooked(
      (call, target) => {
        if (call === 'fsync' && !target.endsWith('.tmp')) throw fsError('EINVAL');
      },
      { fsync: true },
    );
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    assert.equal(await t.store.update(id, { set: { a: 2 } }, Date.now() + HOUR), true);
    assert.equal((await t.store.get(id))?.data.a, 2);
    await t.done();
  });

  it('with fsync, a directory fsync that fails with EIO rejects the write with StoreWriteError', async () => {
    const t = await hooked(
      (call, target) => {
        if (call === 'fsync' && !target.endsWith('.tmp')) throw fsError('EIO');
      },
      { fsync: true },
    );
    await assert.rejects(
      t.store.create(generateSessionId(), record({ a: 1 })),
      (error: unknown) => error instanceof StoreWriteError && /\(EIO\)/.test(error.message),
    );
    await t.done();
  });

  it('an fs error without a code is shown by its message: StoreUnavailableError on read, StoreWriteError on write', async () => {
    const id = generateSessionId();
    const t = await hooked(() => {});
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    t.state.on = false;
    const fail = (call: string) => (name: string) => {
      if (name === call) throw new Error('bus error');
    };
    const reading = await hooked(fail('read'));
    await writeRawSession(reading.dir, id, record({ a: 1 }));
    await assert.rejects(
      reading.store.get(id),
      (error: unknown) =>
        error instanceof StoreUnavailableError &&
        /could not read a session file \(Error: bus error\)/.test(error.message),
    );
    const writing = await hooked(fail('write'));
    await assert.rejects(
      writing.store.create(generateSessionId(), record({ a: 1 })),
      (error: unknown) =>
        error instanceof StoreWriteError &&
        /could not write a session file \(Error: bus error\)/.test(error.message),
    );
    assert.deepEqual(await entries(writing.dir), []);
    await Promise.all([t.done(), reading.done(), writing.done()]);
  });

  it('a forward that cannot be opened (EACCES) makes destroy reject with StoreWriteError; a symlink planted as a forward is ignored', async () => {
    const t = await hooked((call, target) => {
      if (call === 'open' && target.endsWith('.moved') && target.includes('deny')) {
        throw fsError('EACCES');
      }
    });
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    await symlink('/etc/passwd', join(t.dir, `${plainName(id)}.moved`));
    await t.store.destroy(id);
    assert.equal(await t.store.get(id), undefined);
    assert.deepEqual(await entries(t.dir), [`${plainName(id)}.moved`]);
    await t.done();

    const denied = await hooked((call, target) => {
      if (call === 'open' && target.endsWith('.moved')) throw fsError('EACCES');
    });
    const other = generateSessionId();
    assert.equal(await denied.store.create(other, record({ a: 1 })), true);
    await assert.rejects(
      denied.store.destroy(other),
      (error: unknown) => error instanceof StoreWriteError && /EACCES/.test(error.message),
    );
    await denied.done();
  });

  it('an invalid file that cannot be moved aside (EACCES): the read reports no session and the error, the file stays', async () => {
    const t = await hooked((call, target) => {
      if (call === 'rename' && target.endsWith('.json')) throw fsError('EACCES');
    });
    const id = generateSessionId();
    await writeFile(join(t.dir, plainName(id)), '{not json', { mode: 0o600 });
    await assert.rejects(
      t.store.update(id, { set: { a: 1 } }, Date.now() + HOUR),
      (error: unknown) => error instanceof StoreWriteError && /EACCES/.test(error.message),
    );
    assert.deepEqual(await entries(t.dir), [plainName(id)]);
    await t.done();
  });

  it('an older quarantined entry that cannot be removed: moving aside fails with StoreWriteError', async () => {
    const t = await hooked((call, target) => {
      if (call === 'rmTree' && target.endsWith('.corrupt')) throw fsError('EBUSY');
    });
    const id = generateSessionId();
    const file = join(t.dir, plainName(id));
    await writeFile(file, '{not json', { mode: 0o600 });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(`${file}.corrupt`);
    await writeFile(join(`${file}.corrupt`, 'x'), 'x');
    await assert.rejects(
      t.store.update(id, { set: { a: 1 } }, Date.now() + HOUR),
      (error: unknown) => error instanceof StoreWriteError && /EBUSY/.test(error.message),
    );
    await t.done();
  });
});

describe('FileStore under a umask that strips the owner bits', () => {
  it('session files are still created 0600 and read back', async () => {
    const previous = process.umask(0o277);
    const dir = await tempDir();
    try {
      const store = new FileStore({ path: dir });
      const id = generateSessionId();
      assert.equal(await store.create(id, record({ a: 1 })), true);
      assert.equal((await stat(join(dir, plainName(id)))).mode & 0o777, 0o600);
      assert.equal(await store.update(id, { set: { a: 2 } }, Date.now() + HOUR), true);
      assert.equal((await store.get(id))?.data.a, 2);
      await store.close();
    } finally {
      process.umask(previous);
      await removeDir(dir);
    }
  });
});
