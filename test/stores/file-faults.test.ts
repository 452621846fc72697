/**
 * Disk faults: a full disk,
 * a read-only file system, exhausted file descriptors, I/O errors. Real ENOSPC/EROFS come from
 * a small tmpfs when this process may mount one (root, e.g. in CI containers); the same faults
 * are also injected through the store's internal `fs` option, which runs everywhere.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { defaultFs, type FileStoreFs } from '../../src/stores/file/fs.js';
import { entries, fsError, instrumented, removeDir, tempDir } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

/** An fs whose calls `call` on temp files fail with `code` while `failing.on` is true. */
function failingWrites(call: string, code: string) {
  const failing = { on: true };
  const fs = instrumented((name, target) => {
    if (failing.on && name === call && target.endsWith('.tmp')) throw fsError(code);
  });
  return { fs, failing };
}

const isWriteError = (code: string) => (err: unknown) =>
  err instanceof StoreWriteError &&
  err.code === 'STORE_WRITE_FAILED' &&
  err.message.includes(code) &&
  (err.cause as NodeJS.ErrnoException).code === code;

async function assertNoTempFiles(dir: string) {
  const names = await entries(dir);
  assert.deepEqual(
    names.filter((n) => n.endsWith('.tmp')),
    [],
    'a temp file was left behind',
  );
}

describe('FileStore faults on a real tmpfs (ENOSPC, EROFS, inodes)', () => {
  let root: string;
  let mounted = false;
  let skip: string | false = false;

  before(async () => {
    root = await tempDir('ssjs-file-tmpfs-');
    try {
      execFileSync(
        'mount',
        ['-t', 'tmpfs', '-o', 'size=256k,nr_inodes=64,mode=0700', 'tmpfs', root],
        {
          stdio: 'ignore',
        },
      );
      mounted = true;
    } catch {
      skip =
        'mounting a tmpfs is not permitted here (needs root); the injected-fs tests cover these faults';
    }
  });
  after(async () => {
    if (mounted) execFileSync('umount', ['-l', root]);
    await removeDir(root);
  });

  it('ENOSPC: the write rejects, the old file is intact, no temp file; works again once space is freed', async (t) => {
    if (skip) return t.skip(skip);
    const dir = join(root, 'full');
    const store = new FileStore({ path: dir });
    const id = generateSessionId();
    await store.create(id, record({ value: 'old' }));
    const filler = join(root, 'filler');
    const handle = await open(filler, 'w');
    try {
      // tmpfs gives short writes, then ENOSPC: write until the disk is full.
      while ((await handle.write(Buffer.alloc(16 * 1024))).bytesWritten > 0);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      await handle.close();
    }
    const big = 'x'.repeat(100_000);
    await assert.rejects(
      store.update(id, { set: { value: big } }, Date.now() + HOUR),
      (err: unknown) => isWriteError('ENOSPC')(err) && !(err as Error).message.includes(id),
    );
    assert.equal((await store.get(id))?.data.value, 'old');
    await assertNoTempFiles(dir);
    await rm(filler);
    assert.equal(await store.update(id, { set: { value: big } }, Date.now() + HOUR), true);
    assert.equal((await store.get(id))?.data.value, big);
    await store.clear();
  });

  it('inode exhaustion: create rejects with StoreWriteError, existing sessions stay readable', async (t) => {
    if (skip) return t.skip(skip);
    const dir = join(root, 'inodes');
    const store = new FileStore({ path: dir });
    const ids: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 100 && !failure; i++) {
      const id = generateSessionId();
      try {
        await store.create(id, record({ i }));
        ids.push(id);
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(isWriteError('ENOSPC')(failure), `expected ENOSPC, got ${failure}`);
    for (const [i, id] of ids.entries()) assert.equal((await store.get(id))?.data.i, i);
    await assertNoTempFiles(dir);
    await store.clear();
    assert.equal(await store.create(generateSessionId(), record()), true);
    await store.clear();
  });

  it('EROFS: writes reject, reads work, and writes work again after a read-write remount', async (t) => {
    if (skip) return t.skip(skip);
    const dir = join(root, 'ro');
    const store = new FileStore({ path: dir });
    const id = generateSessionId();
    await store.create(id, record({ value: 'kept' }));
    execFileSync('mount', ['-o', 'remount,ro', root]);
    try {
      await assert.rejects(
        store.update(id, { set: { value: 'new' } }, Date.now() + HOUR),
        isWriteError('EROFS'),
      );
      await assert.rejects(store.touch(id, Date.now() + HOUR), isWriteError('EROFS'));
      await assert.rejects(store.create(generateSessionId(), record()), isWriteError('EROFS'));
      await assert.rejects(store.destroy(id), isWriteError('EROFS'));
      assert.equal((await store.get(id))?.data.value, 'kept');
      const locking = new FileStore({ path: dir, multiProcess: true });
      await assert.rejects(
        locking.update(id, { set: { value: 'new' } }, Date.now() + HOUR),
        isWriteError('EROFS'),
      );
      assert.equal((await locking.get(id))?.data.value, 'kept');
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', root]);
    }
    assert.equal(await store.update(id, { set: { value: 'new' } }, Date.now() + HOUR), true);
    assert.equal((await store.get(id))?.data.value, 'new');
    await store.clear();
  });
});

describe('FileStore faults through an injected fs', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('ssjs-file-faults-');
  });
  after(() => removeDir(dir));

  for (const [method, code] of [
    ['write', 'ENOSPC'],
    ['write', 'EIO'],
    ['futimes', 'EROFS'],
    ['close', 'EIO'],
  ] as const) {
    it(`${code} in ${method}: StoreWriteError, old file intact, no temp file, then recovers`, async () => {
      const { fs, failing } = failingWrites(method, code);
      const store = new FileStore({ path: dir, fs });
      const id = generateSessionId();
      failing.on = false;
      await store.create(id, record({ value: 'old' }));
      failing.on = true;
      await assert.rejects(
        store.update(id, { set: { value: 'new' } }, Date.now() + HOUR),
        isWriteError(code),
      );
      await assert.rejects(store.create(generateSessionId(), record()), isWriteError(code));
      assert.equal((await store.get(id))?.data.value, 'old');
      await assertNoTempFiles(dir);
      failing.on = false;
      assert.equal(await store.update(id, { set: { value: 'new' } }, Date.now() + HOUR), true);
      assert.equal((await store.get(id))?.data.value, 'new');
      await store.clear();
    });
  }

  it('EACCES on rename: StoreWriteError and the temp file is removed', async () => {
    let fail = false;
    const fs: FileStoreFs = {
      ...defaultFs,
      rename: (async (from: string, to: string) => {
        if (fail) throw fsError('EACCES');
        return defaultFs.rename(from, to);
      }) as FileStoreFs['rename'],
    };
    const store = new FileStore({ path: dir, fs });
    const id = generateSessionId();
    await store.create(id, record({ value: 'old' }));
    fail = true;
    await assert.rejects(store.touch(id, Date.now() + 2 * HOUR), isWriteError('EACCES'));
    assert.equal((await store.get(id))?.data.value, 'old');
    await assertNoTempFiles(dir);
    await store.clear();
  });

  it('EMFILE is retried with a short backoff; persistent EMFILE becomes StoreWriteError', async () => {
    let failures = 0;
    const fs: FileStoreFs = {
      ...defaultFs,
      open: (async (path: string, flags: string | number, mode?: number) => {
        if (failures > 0) {
          failures--;
          throw fsError('EMFILE');
        }
        return defaultFs.open(path, flags, mode);
      }) as FileStoreFs['open'],
    };
    const store = new FileStore({ path: dir, fs });
    const id = generateSessionId();
    failures = 3;
    assert.equal(await store.create(id, record({ a: 1 })), true);
    failures = 3;
    assert.equal((await store.get(id))?.data.a, 1);
    failures = 1000;
    const started = Date.now();
    await assert.rejects(
      store.update(id, { set: { a: 2 } }, Date.now() + HOUR),
      (err: unknown) =>
        // The read under the lock fails first: it is a read error.
        err instanceof StoreUnavailableError &&
        (err.cause as NodeJS.ErrnoException).code === 'EMFILE',
    );
    assert.ok(Date.now() - started < 2000, 'the retries are bounded');
    failures = 0;
    assert.equal(await store.update(id, { set: { a: 2 } }, Date.now() + HOUR), true);
    await store.clear();
  });

  it('EIO on read: get rejects with StoreUnavailableError (fails closed, not "logged out")', async () => {
    let fail = false;
    const fs = instrumented((name) => {
      if (fail && name === 'read') throw fsError('EIO');
    });
    const store = new FileStore({ path: dir, fs });
    const id = generateSessionId();
    await store.create(id, record({ a: 1 }));
    fail = true;
    await assert.rejects(store.get(id), StoreUnavailableError);
    fail = false;
    assert.equal((await store.get(id))?.data.a, 1);
    await store.clear();
  });

  it('fsync: true writes in the durable order: open(tmp, wx, 0600) → write → fsync → close → rename → fsync(dir)', async () => {
    const calls: string[] = [];
    const what = (target: string) =>
      target === dir ? 'dir' : target.endsWith('.tmp') ? 'tmp' : 'file';
    const fs = instrumented((name, target) => calls.push(`${name} ${what(target)}`));
    const open = fs.open;
    fs.open = (path, flags, mode) => {
      calls.push(`flags ${flags} ${mode?.toString(8) ?? ''}`.trim());
      return open(path, flags, mode);
    };
    const store = new FileStore({ path: dir, fs, fsync: true });
    const id = generateSessionId();
    await store.create(id, record());
    calls.length = 0;
    await store.touch(id, Date.now() + HOUR);
    const write = calls.slice(calls.indexOf('flags wx 600'));
    assert.deepEqual(write, [
      'flags wx 600',
      'open tmp',
      'write tmp',
      'futimes tmp',
      'fsync tmp',
      'close tmp',
      'rename tmp',
      'flags r',
      'open dir',
      'fsync dir',
      'close dir',
    ]);
    await store.clear();
  });

  it('an error on one file during a sweep is reported, and the sweep carries on', async () => {
    const errors: Error[] = [];
    let poisoned = '';
    const fs: FileStoreFs = {
      ...defaultFs,
      lstat: (async (path: string) => {
        if (poisoned && String(path).endsWith(poisoned)) throw fsError('EACCES');
        return defaultFs.lstat(path);
      }) as FileStoreFs['lstat'],
    };
    // Full scans (the sessions expire within the hour the index sweeps after).
    const store = new FileStore({
      path: dir,
      fs,
      fullSweepInterval: 1,
      onError: (e) => errors.push(e),
    });
    const ids = Array.from({ length: 10 }, () => generateSessionId());
    for (const id of ids) await store.create(id, record({}, { ttl: 20 }));
    poisoned = store._getFilePath(ids[0] as string).slice(dir.length + 1);
    await sleep(40);
    assert.equal(await store.cleanup(), 9);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /EACCES/);
    poisoned = '';
    assert.equal(await store.cleanup(), 1);
    await store.clear();
  });

  it('a directory replaced by a symlink at runtime: the next sweep notices, writes are refused', async () => {
    const base = join(dir, 'moving');
    const errors: Error[] = [];
    const store = new FileStore({ path: base, onError: (e) => errors.push(e) });
    const id = generateSessionId();
    await store.create(id, record());
    await rm(base, { recursive: true });
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(elsewhere);
    execFileSync('ln', ['-s', elsewhere, base]);
    assert.equal(await store.cleanup(), 0);
    assert.match(errors[0]?.message ?? '', /symbolic link/);
    await assert.rejects(store.create(generateSessionId(), record()), /symbolic link/);
    await assert.rejects(store.get(id), /symbolic link/);
    assert.deepEqual(await readdir(elsewhere), [], 'nothing was written through the symlink');
    await rm(base);
  });
});
