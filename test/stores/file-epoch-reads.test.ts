/**
 * How FileStore reads user epochs on a bound session's load. Without `multiProcess` the store
 * is the directory's only writer: an epoch file is read once, then served from memory, and each
 * raise replaces what is remembered as it lands (seen by the next load, never an older value, for
 * however many users). With `multiProcess` every load reads the file, so two stores on one
 * directory see each other's raises. File calls are counted through the store's `fs` option.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore, type FileStoreOptions } from '../../src/stores/file/file-store.js';
import { defaultFs, type FileStoreFs } from '../../src/stores/file/fs.js';
import { removeDir, tempDir } from '../helpers/file-store.js';
import { Client } from '../helpers/http.js';
import { afterFile } from '../helpers/serve.js';
import { startApp } from './user-sessions-http.js';

/** The name the store gives a user's files (a plain store: SHA-256 of `user\0<id>`). */
const epochFile = (dir: string, userId: string) =>
  join(dir, 'users', `${createHash('sha256').update(`user\0${userId}`).digest('hex')}.epoch`);

/** The default fs, counting the opens of epoch files for reading. */
function countingEpochReads(): { fs: FileStoreFs; reads: () => number } {
  let reads = 0;
  const fs: FileStoreFs = {
    ...defaultFs,
    open: (path, flags, mode) => {
      if (String(path).endsWith('.epoch') && flags === 'r') reads++;
      return defaultFs.open(path, flags, mode);
    },
  };
  return { fs, reads: () => reads };
}

async function store(options: FileStoreOptions = {}) {
  const dir = await tempDir();
  const counted = countingEpochReads();
  const s = new FileStore({ path: dir, fs: counted.fs, onError: () => {}, ...options });
  await s.ensureDirectory();
  afterFile(async () => {
    await s.close();
    await removeDir(dir);
  });
  return { dir, store: s, reads: counted.reads };
}

describe('FileStore epochs without multiProcess: read once, then from memory', () => {
  it('reads an epoch file once, and a raise is seen by the next read without a file read', async () => {
    const t = await store();
    await mkdir(join(t.dir, 'users'), { recursive: true });
    await writeFile(epochFile(t.dir, 'ada'), '17');
    assert.equal(await t.store.userEpoch('ada'), 17);
    assert.equal(await t.store.userEpoch('ada'), 17);
    assert.equal(await t.store.userEpoch('bob'), 0, 'no file: 0, remembered too');
    assert.equal(await t.store.userEpoch('bob'), 0);
    assert.equal(t.reads(), 2);
    assert.equal(await t.store.raiseUserEpoch('ada', 40), 40);
    assert.equal(await t.store.raiseUserEpoch('ada', 30), 40, 'never lowered');
    assert.equal(await t.store.userEpoch('ada'), 40);
    assert.equal(t.reads(), 2);
    const reopened = new FileStore({ path: t.dir });
    assert.equal(await reopened.userEpoch('ada'), 40, 'the raise is on disk');
    await reopened.close();
  });

  it('a read racing a raise of the same user never remembers the older epoch', async () => {
    const dir = await tempDir();
    afterFile(() => removeDir(dir));
    let release!: () => void;
    let held: Promise<void> | undefined = new Promise((resolve) => {
      release = resolve;
    });
    let readDone = false;
    // The first read of the epoch file is held after it has read the old value (at its close).
    const reading = new Set<number>();
    const fs: FileStoreFs = {
      ...defaultFs,
      open: async (path, flags, mode) => {
        const fd = await defaultFs.open(path, flags, mode);
        if (String(path).endsWith('.epoch') && flags === 'r') reading.add(fd);
        return fd;
      },
      close: async (fd) => {
        await defaultFs.close(fd);
        const gate = reading.delete(fd) ? held : undefined;
        held = undefined;
        if (gate) await gate;
      },
    };
    const seed = new FileStore({ path: dir });
    await seed.raiseUserEpoch('cy', 3);
    await seed.close();
    const s = new FileStore({ path: dir, fs });
    afterFile(() => s.close());
    const read = s.userEpoch('cy').then((epoch) => {
      readDone = true;
      return epoch;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const raise = s.raiseUserEpoch('cy', 10);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(readDone, false, 'the read is held');
    release();
    assert.equal(await read, 3);
    assert.equal(await raise, 10);
    assert.equal(await s.userEpoch('cy'), 10);
  });

  it('stays right for more users than it remembers', async () => {
    const t = await store();
    const users = Array.from({ length: 4200 }, (_, i) => `u${i}`);
    for (const [i, user] of users.entries()) await t.store.raiseUserEpoch(user, i + 1);
    let reads = t.reads();
    assert.equal(await t.store.userEpoch('u4199'), 4200);
    assert.equal(t.reads(), reads, 'the newest are remembered');
    for (const [i, user] of users.entries()) {
      if ((await t.store.userEpoch(user)) !== i + 1) assert.fail(`${user}: wrong epoch`);
    }
    assert.ok(t.reads() > reads, 'the oldest were forgotten and read again');
    await t.store.raiseUserEpoch('u0', 1e12);
    reads = t.reads();
    assert.equal(await t.store.userEpoch('u0'), 1e12);
    assert.equal(t.reads(), reads, 'a raise is remembered as it lands');
    assert.equal(await t.store.userEpoch('u1'), 2);
  });
});

describe('FileStore epochs with multiProcess: every read asks the file', () => {
  it('two stores on one directory see each other’s raises', async () => {
    const a = await store({ multiProcess: true });
    const b = new FileStore({ path: a.dir, multiProcess: true });
    afterFile(() => b.close());
    assert.equal(await a.store.userEpoch('dee'), 0);
    assert.equal(await b.userEpoch('dee'), 0);
    await b.raiseUserEpoch('dee', 50);
    assert.equal(await a.store.userEpoch('dee'), 50);
    await a.store.raiseUserEpoch('dee', 70);
    assert.equal(await b.userEpoch('dee'), 70);
    assert.equal(a.reads(), 3, 'each read (and the raise) opened the file');
  });
});

describe('FileStore over HTTP: a revocation refuses a session its index missed', () => {
  for (const multiProcess of [false, true]) {
    it(`on the next request (multiProcess: ${multiProcess})`, async () => {
      const t = await store({ multiProcess });
      const { base, sm, listening } = await startApp(t.store);
      afterFile(async () => {
        await listening.close();
        await sm.close();
      });
      const phone = new Client(base);
      assert.equal((await phone.request('/login/eli', { method: 'POST' })).status, 200);
      assert.deepEqual((await phone.get('/me')).json(), { user: 'eli', n: 0 });
      // Out of the index (as a login racing the revocation would be): only the epoch can end it.
      await removeDir(epochFile(t.dir, 'eli').replace(/\.epoch$/, ''));
      assert.equal(await sm.destroyUserSessions('eli'), 0, 'the index listed nothing');
      assert.deepEqual((await phone.get('/me')).json(), { user: null, n: null });
    });
  }
});
