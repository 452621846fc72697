/**
 * The FileStore directory under faults injected through the store's internal `fs` option: a
 * directory that cannot be created, inspected or made private fails with StoreUnavailableError
 * naming the step and the error code; a directory removed at runtime makes a sweep a no-op and
 * the next write creates it again; `clear()` that cannot remove a file says how many it left.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreUnavailableError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import {
  entries,
  fsError,
  instrumented,
  plainName,
  removeDir,
  tempDir,
} from '../helpers/file-store.js';
import { record } from '../helpers/records.js';

/** A store on `<temp>/sessions` whose fs call `call` on `target` (a suffix) fails with `code`. */
async function faulty(call: string, target: (path: string) => boolean, code: string) {
  const root = await tempDir();
  const dir = join(root, 'sessions');
  const failing = { on: true };
  const errors: Error[] = [];
  const state: { code: string | undefined } = { code };
  const fs = instrumented((name, path) => {
    if (!failing.on || name !== call || !target(path)) return;
    throw state.code === undefined ? new Error(`${name}: injected`) : fsError(state.code);
  });
  const store = new FileStore({ path: dir, fs, onError: (e) => errors.push(e) });
  return {
    root,
    dir,
    store,
    failing,
    errors,
    /** The code of the injected error; `undefined` throws a plain Error without one. */
    set code(value: string | undefined) {
      state.code = value;
    },
    async done() {
      await store.close();
      await removeDir(root);
    },
  };
}

const unavailable = (step: string, code: string) => (error: unknown) =>
  error instanceof StoreUnavailableError &&
  new RegExp(`could not ${step} the FileStore directory .*\\(${code}\\)`).test(error.message) &&
  (error.cause as NodeJS.ErrnoException).code === code;

describe('FileStore directory faults', () => {
  it('a directory that cannot be created: StoreUnavailableError naming the step, then works once it can', async () => {
    const t = await faulty('mkdir', () => true, 'EACCES');
    const id = generateSessionId();
    await assert.rejects(t.store.create(id, record({ a: 1 })), unavailable('create', 'EACCES'));
    t.failing.on = false;
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    assert.equal((await t.store.get(id))?.data.a, 1);
    await t.done();
  });

  it('a directory that cannot be inspected: StoreUnavailableError (EIO)', async () => {
    const t = await faulty('lstat', (path) => !path.endsWith('.json'), 'EIO');
    await assert.rejects(t.store.ensureDirectory(), unavailable('inspect', 'EIO'));
    await t.done();
  });

  it('a group-readable directory that cannot be chmod-ed to 0700: StoreUnavailableError, mode unchanged', async () => {
    const t = await faulty('chmod', () => true, 'EPERM');
    await mkdir(t.dir, { mode: 0o750 });
    await chmod(t.dir, 0o750);
    await assert.rejects(t.store.ensureDirectory(), unavailable('chmod', 'EPERM'));
    assert.equal((await stat(t.dir)).mode & 0o777, 0o750);
    await t.done();
  });

  it('a directory removed at runtime: the sweep removes nothing, and the next write creates it again', async () => {
    const root = await tempDir();
    const dir = join(root, 'sessions');
    const store = new FileStore({ path: dir });
    const before = generateSessionId();
    assert.equal(await store.create(before, record({ n: 1 })), true);
    await rm(dir, { recursive: true });
    assert.equal(await store.cleanup(), 0);
    const after = generateSessionId();
    assert.equal(await store.create(after, record({ n: 2 })), true);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await store.get(after))?.data.n, 2);
    assert.equal(await store.get(before), undefined);
    await store.close();
    await removeDir(root);
  });

  it('a directory whose inspection fails during a sweep: reported to onError, sweep resolves 0, writes recover', async () => {
    const t = await faulty('lstat', (path) => !path.endsWith('.json'), 'EIO');
    t.failing.on = false;
    const id = generateSessionId();
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    t.failing.on = true;
    assert.equal(await t.store.cleanup(), 0);
    assert.equal(t.errors.length, 1);
    assert.equal((t.errors[0] as NodeJS.ErrnoException).code, 'EIO');
    t.failing.on = false;
    assert.equal(await t.store.update(id, { set: { a: 2 } }, Date.now() + 60_000), true);
    assert.equal((await t.store.get(id))?.data.a, 2);
    await t.done();
  });

  it('clear() that cannot remove some files rejects with StoreWriteError saying how many, and removes the rest', async () => {
    const t = await faulty('unlink', (path) => path.endsWith('.json'), 'EACCES');
    t.failing.on = false;
    for (let i = 0; i < 3; i++) await t.store.create(generateSessionId(), record({ i }));
    await writeFile(join(t.dir, 'README.txt'), 'not a session');
    t.failing.on = true;
    await assert.rejects(
      t.store.clear(),
      (error: unknown) =>
        error instanceof StoreWriteError &&
        /could not remove 3 file\(s\)/.test(error.message) &&
        error.cause instanceof Error,
    );
    t.failing.on = false;
    await t.store.clear();
    assert.deepEqual(await entries(t.dir), ['README.txt']);
    await t.done();
  });

  it('clear() also removes forwards and quarantined files, live or not', async () => {
    const t = await faulty('unlink', () => false, 'EIO');
    const [moved, corrupt] = [generateSessionId(), generateSessionId()];
    await t.store.create(moved, record({ a: 1 }));
    const now = Date.now();
    await t.store.move(moved, generateSessionId(), {
      keep: true,
      createdAt: now,
      expiresAt: now + 60_000,
      forwardUntil: now + 60_000,
    });
    await writeFile(join(t.dir, `${plainName(corrupt)}.corrupt`), 'quarantined');
    assert.ok((await entries(t.dir)).some((name) => name.endsWith('.moved')));
    await t.store.clear();
    assert.deepEqual(await entries(t.dir), []);
    await t.done();
  });

  it('a sweep error without a code is reported by its message, and the sweep carries on', async () => {
    const t = await faulty('lstat', (path) => path.endsWith('.json'), 'unused');
    t.failing.on = false;
    const ids = [generateSessionId(), generateSessionId()];
    for (const id of ids) await t.store.create(id, record({ a: 1 }));
    t.failing.on = true;
    t.code = undefined;
    assert.equal(await t.store.cleanup(), 0);
    assert.equal(t.errors.length, 2);
    for (const error of t.errors) {
      assert.match(error.message, /FileStore cleanup failed on one file \(Error: .*injected\)/);
    }
    await t.done();
  });
});
