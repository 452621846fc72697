/**
 * FileStore's per-user files under faults and hostile content: an epoch file that is not a
 * number reads as 0; one that can't be read, or an epoch that can't be written, rejects with
 * StoreWriteError (the old epoch stays, no temp file is left); a login whose user marker can't
 * be created writes no session; with fsync the epoch is synced; at a cap above one, the oldest
 * sessions go first. Faults through the store's internal `fs` option.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file/file-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { type FsHook, fsError, instrumented, removeDir, tempDir } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

/** The name the store gives a user's files (a plain store: SHA-256 of `user\0<id>`). */
const userFile = (userId: string) => createHash('sha256').update(`user\0${userId}`).digest('hex');

const bound = (userId: string, data: Record<string, unknown> = {}, ttl = HOUR) =>
  record({ ...data, [USER_BINDING_KEY]: { id: userId, epoch: 0 } }, { ttl });

async function hooked(hook: FsHook, options: FileStoreOptions = {}) {
  const dir = await tempDir();
  const state = { on: false };
  const fs = instrumented((call, target) => {
    if (state.on) hook(call, target);
  });
  const store = new FileStore({ path: dir, fs, onError: () => {}, ...options });
  await store.ensureDirectory();
  return {
    dir,
    store,
    state,
    async done() {
      await store.close();
      await removeDir(dir);
    },
  };
}

const writeError = (code: string) => (error: unknown) =>
  error instanceof StoreWriteError && error.message.includes(`(${code})`);

describe('FileStore user epochs', () => {
  it('an epoch file that is not a number reads as 0, and raising it replaces it', async () => {
    const t = await hooked(() => {});
    await mkdir(join(t.dir, 'users'), { recursive: true });
    await writeFile(join(t.dir, 'users', `${userFile('ada')}.epoch`), 'garbage');
    assert.equal(await t.store.userEpoch('ada'), 0);
    assert.equal(await t.store.raiseUserEpoch('ada', 4), 4);
    assert.equal(await t.store.userEpoch('ada'), 4);
    await t.done();
  });

  it('an epoch file that cannot be read (EACCES): userEpoch rejects with StoreWriteError', async () => {
    const t = await hooked((call, target) => {
      if (call === 'open' && target.endsWith('.epoch')) throw fsError('EACCES');
    });
    // Written from outside, so the store has not read it yet (once read, it is remembered).
    await mkdir(join(t.dir, 'users'), { recursive: true });
    await writeFile(join(t.dir, 'users', `${userFile('ada')}.epoch`), '2');
    t.state.on = true;
    await assert.rejects(t.store.userEpoch('ada'), writeError('EACCES'));
    t.state.on = false;
    assert.equal(await t.store.userEpoch('ada'), 2);
    await t.done();
  });

  it('an epoch that cannot be put in place (EIO on rename): rejects, the old epoch stays, no temp file', async () => {
    const t = await hooked((call, target) => {
      if (call === 'rename' && target.endsWith('.tmp') && target.includes('.epoch.')) {
        throw fsError('EIO');
      }
    });
    await t.store.raiseUserEpoch('ada', 2);
    t.state.on = true;
    await assert.rejects(t.store.raiseUserEpoch('ada', 7), writeError('EIO'));
    t.state.on = false;
    assert.equal(await t.store.userEpoch('ada'), 2);
    assert.deepEqual(
      (await readdir(join(t.dir, 'users'))).filter((name) => name.endsWith('.tmp')),
      [],
    );
    await t.done();
  });

  it('with fsync, the new epoch file is synced before it is put in place', async () => {
    const calls: string[] = [];
    const t = await hooked(
      (call, target) => {
        if (target.includes('.epoch')) calls.push(call);
      },
      { fsync: true },
    );
    t.state.on = true;
    assert.equal(await t.store.raiseUserEpoch('ada', 3), 3);
    assert.ok(calls.indexOf('fsync') !== -1 && calls.indexOf('fsync') < calls.indexOf('rename'));
    assert.equal(
      (await readFile(join(t.dir, 'users', `${userFile('ada')}.epoch`))).toString(),
      '3',
    );
    await t.done();
  });
});

describe('FileStore logins bound to a user', () => {
  it("a user marker that can't be created (ENOSPC): createForUser rejects and writes no session", async () => {
    const t = await hooked((call, target) => {
      if (call === 'open' && target.includes(`${userFile('ada')}/`)) throw fsError('ENOSPC');
    });
    t.state.on = true;
    const id = generateSessionId();
    await assert.rejects(t.store.createForUser(id, bound('ada'), 'ada'), writeError('ENOSPC'));
    t.state.on = false;
    assert.equal(await t.store.get(id), undefined);
    await t.done();
  });

  it('at a cap of two, a third login evicts the session that expires first', async () => {
    const t = await hooked(() => {});
    const [soon, later, newest] = [generateSessionId(), generateSessionId(), generateSessionId()];
    const limit = { max: 2, whenFull: 'evict-oldest' as const };
    await t.store.createForUser(later, bound('ada', { n: 2 }, 2 * HOUR), 'ada', limit);
    await t.store.createForUser(soon, bound('ada', { n: 1 }, HOUR), 'ada', limit);
    const third = await t.store.createForUser(
      newest,
      bound('ada', { n: 3 }, 3 * HOUR),
      'ada',
      limit,
    );
    assert.deepEqual(third, { status: 'created', evicted: 1 });
    assert.equal(await t.store.get(soon), undefined);
    assert.deepEqual(
      (await t.store.listUser('ada')).map(([id]) => id).sort(),
      [later, newest].sort(),
    );
    await t.done();
  });
});
