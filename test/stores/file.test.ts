import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InvalidOptionError,
  InvalidSessionIdError,
  SessionTooLargeError,
} from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file/file-store.js';
import {
  countingFs,
  KEY,
  plainName,
  removeDir,
  setup,
  tempDir,
  writeRawSession,
} from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';
import { describeStore, HOSTILE_IDS } from './compliance.js';

function fileStoreFixture(options: FileStoreOptions = {}) {
  return async () => {
    const dir = await tempDir();
    const open = () =>
      new FileStore({ path: join(dir, 'sessions'), onError: () => {}, ...options });
    return { store: open(), reopen: open, cleanup: () => removeDir(dir) };
  };
}

describeStore('FileStore', fileStoreFixture());
describeStore('FileStore (encrypted)', fileStoreFixture({ encryptionKey: KEY }));
describeStore('FileStore (multiProcess)', fileStoreFixture({ multiProcess: true }));
describeStore('FileStore (fsync)', fileStoreFixture({ fsync: true }));

describe('FileStore: file names, modes and paths', () => {
  it('names files 64 hex + .json, never showing the id (plain and encrypted)', async () => {
    for (const options of [{}, { encryptionKey: KEY }]) {
      const t = await setup(options);
      const id = generateSessionId();
      await t.store.create(id, record({ a: 1 }));
      const names = (await readdir(t.dir)).filter((name) => name !== 'expiry');
      assert.equal(names.length, 1);
      assert.match(names[0] as string, /^[0-9a-f]{64}\.json$/);
      assert.ok(!names[0]?.includes(id));
      assert.equal(t.store._getFilePath(id), join(t.dir, names[0] as string));
      if (options.encryptionKey) assert.notEqual(names[0], plainName(id), 'HMAC, not sha256');
      else assert.equal(names[0], plainName(id));
      await t.done();
    }
  });

  it('creates the directory 0700 and files 0600 even with umask 0', async () => {
    const old = process.umask(0);
    try {
      const t = await setup();
      const id = generateSessionId();
      await t.store.create(id, record());
      assert.equal((await stat(t.dir)).mode & 0o777, 0o700);
      assert.equal((await stat(t.store._getFilePath(id))).mode & 0o777, 0o600);
      await t.store.update(id, { set: { b: 2 } }, Date.now() + HOUR);
      assert.equal((await stat(t.store._getFilePath(id))).mode & 0o777, 0o600);
      await t.done();
    } finally {
      process.umask(old);
    }
  });

  it('tightens an existing 0777 directory to 0700, and a 0644 session file becomes 0600 on write', async () => {
    const t = await setup();
    const id = generateSessionId();
    const file = await writeRawSession(t.dir, id, record({ a: 1 }));
    await chmod(file, 0o644);
    await chmod(t.dir, 0o777);
    const store = new FileStore({ path: t.dir, onError: () => {} });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    await store.ensureDirectory();
    await sleep(10);
    process.off('warning', onWarning);
    assert.equal((await stat(t.dir)).mode & 0o777, 0o700);
    assert.ok(warnings.some((w) => w.includes('0700')));
    assert.equal(await store.touch(id, Date.now() + HOUR), true);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await t.done();
  });

  it('_getFilePath stays inside the directory and throws for hostile ids', async () => {
    const t = await setup();
    const id = generateSessionId();
    const p = t.store._getFilePath(id);
    assert.equal(join(t.dir, p.slice(t.dir.length + 1)), p);
    assert.ok(p.startsWith(`${t.dir}/`));
    for (const bad of HOSTILE_IDS) {
      assert.throws(() => t.store._getFilePath(bad as string), InvalidSessionIdError);
    }
    await t.done();
  });

  it('rejects hostile ids before touching the file system', async () => {
    const calls: string[] = [];
    const t = await setup();
    const store = new FileStore({ path: join(t.root, 'fresh'), fs: countingFs(calls) });
    for (const bad of HOSTILE_IDS) {
      await assert.rejects(store.get(bad as string), InvalidSessionIdError);
      await assert.rejects(store.create(bad as string, record()), InvalidSessionIdError);
      await assert.rejects(store.destroy(bad as string), InvalidSessionIdError);
    }
    assert.deepEqual(calls, []);
    await t.done();
  });

  it('get of an unknown id costs one failed open: no retries, no stat, no report', async () => {
    const calls: string[] = [];
    const t = await setup();
    const store = new FileStore({
      path: t.dir,
      fs: countingFs(calls),
      onError: (e) => t.errors.push(e),
    });
    await store.ensureDirectory();
    calls.length = 0;
    assert.equal(await store.get(generateSessionId()), undefined);
    assert.deepEqual(calls, ['open']);
    assert.deepEqual(t.errors, []);
    await t.done();
  });

  it('resolves path to an absolute path at construction', () => {
    const store = new FileStore({ path: 'relative-sessions' });
    assert.equal(store.path, join(process.cwd(), 'relative-sessions'));
    assert.equal(new FileStore().path, join(process.cwd(), 'sessions'));
  });

  it('validates options with InvalidOptionError naming the option', () => {
    const cases: Array<[FileStoreOptions, RegExp]> = [
      [{ path: '' }, /path must be/],
      [{ ttl: 0 }, /ttl must be a number of seconds above 0 .*, got 0$/],
      [{ ttl: Number.NaN }, /ttl must be/],
      [{ cleanupInterval: -1 }, /cleanupInterval must be/],
      [{ fsync: 'yes' as unknown as boolean }, /fsync must be a boolean, got "yes"$/],
      [{ multiProcess: 1 as unknown as boolean }, /multiProcess must be a boolean/],
      [{ encryptionKey: 'short' }, /encryptionKey must be .*, got 5 bytes$/],
      [{ maxFileSize: 0 }, /maxFileSize must be/],
      [{ onError: 'log' as unknown as () => void }, /onError must be a function/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => new FileStore(options),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          /^session-store-js: /.test(err.message) &&
          message.test(err.message),
      );
    }
    assert.throws(
      () => new FileStore({ encryptionKey: 'secret-but-too-short' }),
      (err: unknown) => err instanceof Error && !err.message.includes('secret-but-too-short'),
    );
  });

  it('clamps expiresAt to now + ttl', async () => {
    const t = await setup({ ttl: 60 });
    const id = generateSessionId();
    await t.store.create(id, record({}, { ttl: 10 * HOUR }));
    const got = await t.store.get(id);
    assert.ok(got && got.expiresAt <= Date.now() + 60_000);
    await t.store.update(id, { set: { a: 1 } }, Date.now() + 10 * HOUR);
    const after = await t.store.get(id);
    assert.ok(after && after.expiresAt <= Date.now() + 60_000);
    await t.done();
  });
});

describe('FileStore: size limit', () => {
  it('refuses a write over maxFileSize and keeps the previous version readable', async () => {
    const t = await setup({ maxFileSize: 2048 });
    const id = generateSessionId();
    await t.store.create(id, record({ small: 'x' }));
    await assert.rejects(
      t.store.update(id, { set: { big: 'y'.repeat(4096) } }, Date.now() + HOUR),
      (e: unknown) => e instanceof SessionTooLargeError && e.code === 'SESSION_TOO_LARGE',
    );
    assert.deepEqual({ ...(await t.store.get(id))?.data }, { small: 'x' });
    const big = generateSessionId();
    await assert.rejects(
      t.store.create(big, record({ big: 'z'.repeat(4096) })),
      SessionTooLargeError,
    );
    assert.equal(await t.store.get(big), undefined);
    await t.done();
  });
});

describe('FileStore: in-place rewrites of small sessions', () => {
  const inode = async (path: string) => (await stat(path)).ino;

  it('rewrites a small session in the same file, padded with JSON whitespace', async () => {
    const t = await setup();
    const id = generateSessionId();
    await t.store.create(id, record({ visits: 1 }));
    const path = t.store._getFilePath(id);
    const before = await inode(path);
    const size = (await stat(path)).size;
    assert.equal(size % 256, 0, 'small files are padded to a multiple of 256 bytes');
    for (let visits = 2; visits <= 20; visits++) {
      assert.equal(await t.store.update(id, { set: { visits } }, Date.now() + HOUR), true);
    }
    assert.equal(await inode(path), before, 'the same file was rewritten in place');
    assert.equal((await stat(path)).size, size);
    const text = await readFile(path, 'utf8');
    assert.equal(JSON.parse(text).data.visits, 20);
    assert.match(text, /\} +$/);
    assert.equal((await t.store.get(id))?.data.visits, 20);
    await t.done();
  });

  it('a session that outgrows its file, or a multiProcess store, writes a new file and renames it', async () => {
    const t = await setup();
    const id = generateSessionId();
    await t.store.create(id, record({ note: 'short' }));
    const path = t.store._getFilePath(id);
    const before = await inode(path);
    await t.store.update(id, { set: { note: 'x'.repeat(600) } }, Date.now() + HOUR);
    assert.notEqual(await inode(path), before);
    assert.equal((await t.store.get(id))?.data.note, 'x'.repeat(600));
    await t.done();

    const shared = await setup({ multiProcess: true });
    const other = generateSessionId();
    await shared.store.create(other, record({ visits: 1 }));
    const sharedPath = shared.store._getFilePath(other);
    const first = await inode(sharedPath);
    await shared.store.update(other, { set: { visits: 2 } }, Date.now() + HOUR);
    assert.notEqual(await inode(sharedPath), first, 'with multiProcess every write is a rename');
    await shared.done();
  });

  it('never recreates a file that vanished before an in-place rewrite', async () => {
    const t = await setup();
    const id = generateSessionId();
    await t.store.create(id, record({ visits: 1 }));
    await rm(t.store._getFilePath(id));
    assert.equal(await t.store.update(id, { set: { visits: 2 } }, Date.now() + HOUR), false);
    await assert.rejects(stat(t.store._getFilePath(id)), { code: 'ENOENT' });
    await t.done();
  });
});

describe('FileStore: persistence and the directory', () => {
  it('ensureDirectory refuses a symlinked directory, a file, and a foreign-owned directory', async () => {
    const t = await setup();
    const real = join(t.root, 'real');
    await mkdir(real, { mode: 0o700 });
    const link = join(t.root, 'link');
    await symlink(real, link);
    const viaLink = new FileStore({ path: link });
    await assert.rejects(
      viaLink.ensureDirectory(),
      (e: unknown) => e instanceof InvalidOptionError && /symbolic link/.test((e as Error).message),
    );
    await assert.rejects(viaLink.get(generateSessionId()), InvalidOptionError);
    await assert.rejects(viaLink.create(generateSessionId(), record()), InvalidOptionError);
    assert.deepEqual(await readdir(real), [], 'nothing written through the symlink');
    const file = join(t.root, 'plain-file');
    await writeFile(file, 'x');
    await assert.rejects(new FileStore({ path: file }).ensureDirectory(), InvalidOptionError);
    if (process.getuid?.() === 0) {
      const foreign = join(t.root, 'foreign');
      await mkdir(foreign, { mode: 0o700 });
      await chown(foreign, 1234, 1234);
      await assert.rejects(
        new FileStore({ path: foreign }).ensureDirectory(),
        (e: unknown) =>
          e instanceof InvalidOptionError && /owned by uid 1234/.test((e as Error).message),
      );
    }
    await t.done();
  });

  it('recreates a deleted directory with 0700 (explicitly and on the next write)', async () => {
    const t = await setup();
    const id = generateSessionId();
    await t.store.create(id, record({ a: 1 }));
    await rm(t.dir, { recursive: true });
    assert.equal(await t.store.get(id), undefined, 'deleted sessions are simply gone');
    assert.equal(await t.store.update(id, { set: { a: 2 } }, Date.now() + HOUR), false);
    const other = generateSessionId();
    assert.equal(await t.store.create(other, record({ b: 1 })), true);
    assert.equal((await stat(t.dir)).mode & 0o777, 0o700);
    assert.equal((await t.store.get(other))?.data.b, 1);
    await rm(t.dir, { recursive: true });
    await t.store.ensureDirectory();
    assert.equal((await stat(t.dir)).mode & 0o777, 0o700);
    await t.done();
  });
});

describe('FileStore: cleanup, listing and clearing', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    t = await setup();
  });
  after(() => t.done());

  it('removes exactly the expired sessions (100 sessions, 50 expired), encrypted too', async () => {
    for (const options of [{}, { encryptionKey: KEY }]) {
      const s = await setup(options);
      const live: string[] = [];
      for (let i = 0; i < 100; i++) {
        const id = generateSessionId();
        await s.store.create(id, record({ i }, { ttl: i % 2 ? HOUR : 30 }));
        if (i % 2) live.push(id);
      }
      await sleep(60);
      assert.equal(await s.store.cleanup(), 50);
      assert.equal(await s.store.length(), 50);
      for (const id of live) assert.ok(await s.store.get(id));
      assert.equal(await s.store.cleanup(), 0);
      assert.deepEqual(s.errors, []);
      await s.done();
    }
  });

  it('a session touched between the listing and the delete survives', async () => {
    const { defaultFs } = await import('../../src/stores/file/fs.js');
    const root = await tempDir();
    const id = generateSessionId();
    let store: FileStore | undefined;
    const fs = {
      ...defaultFs,
      lstat: (async (p: string) => {
        const result = await defaultFs.lstat(p);
        // The sweep has seen the old (expired) mtime; the session is renewed right now.
        if (p.endsWith(plainName(id))) await store?.touch(id, Date.now() + HOUR);
        return result;
      }) as typeof defaultFs.lstat,
    };
    store = new FileStore({ path: root, fs });
    await store.create(id, record({ keep: true }, { ttl: 40 }));
    await sleep(60);
    // Expired now: touch() would refuse. Make it live again by a direct write (as another
    // request would have, a moment before the sweep) but with an mtime in the past.
    await writeRawSession(root, id, record({ keep: true }, { ttl: HOUR }));
    const file = join(root, plainName(id));
    await utimes(file, (Date.now() - 1000) / 1000, (Date.now() - 1000) / 1000);
    assert.equal(await store.cleanup(), 0);
    assert.equal((await store.get(id))?.data.keep, true);
    // The out-of-step mtime was repaired to the expiry.
    assert.ok((await stat(file)).mtimeMs > Date.now());
    await removeDir(root);
  });

  it('a live session whose mtime is out of step (restored backup) is kept and its mtime repaired', async () => {
    const id = generateSessionId();
    const file = await writeRawSession(t.dir, id, record({ restored: true }, { ttl: HOUR }));
    const past = (Date.now() - 5000) / 1000;
    await utimes(file, past, past);
    assert.equal(await t.store.cleanup(), 0);
    assert.equal((await t.store.get(id))?.data.restored, true);
    assert.ok((await stat(file)).mtimeMs > Date.now() + HOUR / 2);
    await t.store.clear();
  });

  it('multiProcess: a lock left by a killed process does not block writers', async () => {
    const store = new FileStore({ path: t.dir, multiProcess: true });
    const id = generateSessionId();
    await store.create(id, record({ a: 1 }));
    const deadPid = Number(execFileSync('sh', ['-c', 'echo $$']).toString());
    const host = (await import('node:os')).hostname();
    const lock = `${store._getFilePath(id)}.lock`;
    await writeFile(lock, JSON.stringify({ pid: deadPid, host, token: 't', time: Date.now() }));
    const started = Date.now();
    assert.equal(await store.update(id, { set: { a: 2 } }, Date.now() + HOUR), true);
    // Far below the 10 s a waiter gives up after: the dead holder's lock was broken at once.
    assert.ok(Date.now() - started < 5000);
    assert.equal((await store.get(id))?.data.a, 2);
    await assert.rejects(lstat(lock), { code: 'ENOENT' });
    // A lock of this very process that it no longer holds (its release failed) is stale too.
    await writeFile(lock, JSON.stringify({ pid: process.pid, host, token: 'u', time: Date.now() }));
    assert.equal(await store.touch(id, Date.now() + HOUR), true);
    assert.ok(Date.now() - started < 5000);
    await store.clear();
  });

  it('temp leftovers are ignored by get/all/length and removed by cleanup once stale', async () => {
    const id = generateSessionId();
    await t.store.create(id, record({ a: 1 }));
    const name = plainName(id);
    const old = `${name}.${(Date.now() - 120_000).toString(36)}.abcdef.tmp`;
    const fresh = `${name}.${Date.now().toString(36)}.abcdef.tmp`;
    await writeFile(join(t.dir, old), '{"partial');
    await writeFile(join(t.dir, fresh), '{"partial');
    assert.equal(await t.store.length(), 1);
    const ids = [];
    for await (const [sid] of t.store.all()) ids.push(sid);
    assert.deepEqual(ids, [id]);
    await fullScan(t.dir);
    const names = await readdir(t.dir);
    assert.ok(!names.includes(old));
    assert.ok(names.includes(fresh), 'a fresh temp file may be a write in flight');
    await t.store.clear();
    await rm(join(t.dir, fresh));
  });

  it('cleanup breaks stale lock files (dead pid, or old)', async () => {
    const name = plainName(generateSessionId());
    const deadPid = Number(execFileSync('sh', ['-c', 'echo $$']).toString());
    await writeFile(
      join(t.dir, `${name}.lock`),
      JSON.stringify({
        pid: deadPid,
        host: (await import('node:os')).hostname(),
        token: 'x',
        time: Date.now(),
      }),
    );
    const other = plainName(generateSessionId());
    await writeFile(
      join(t.dir, `${other}.lock`),
      JSON.stringify({ pid: process.pid, host: 'elsewhere', token: 'y', time: Date.now() - HOUR }),
    );
    const live = plainName(generateSessionId());
    await writeFile(
      join(t.dir, `${live}.lock`),
      JSON.stringify({ pid: process.pid, host: 'elsewhere', token: 'z', time: Date.now() }),
    );
    await fullScan(t.dir);
    assert.deepEqual((await readdir(t.dir)).sort(), [`${live}.lock`, 'expiry'].sort());
    await rm(join(t.dir, `${live}.lock`));
  });

  it('clear() removes session files and leftovers but leaves other files and directories', async () => {
    for (let i = 0; i < 5; i++) await t.store.create(generateSessionId(), record({ i }));
    await writeFile(join(t.dir, 'config.json'), '{}');
    await mkdir(join(t.dir, 'subdir'));
    await writeFile(join(t.dir, 'subdir', `${'a'.repeat(64)}.json`), '{}');
    await writeFile(join(t.dir, `${'b'.repeat(64)}.json.corrupt`), '{');
    assert.equal(await t.store.length(), 5);
    await t.store.clear();
    assert.equal(await t.store.length(), 0);
    assert.deepEqual((await readdir(t.dir)).sort(), ['config.json', 'expiry', 'subdir']);
    assert.deepEqual(await readdir(join(t.dir, 'subdir')), [`${'a'.repeat(64)}.json`]);
  });

  it('all() skips files that vanish during the walk', async () => {
    const ids = [];
    for (let i = 0; i < 80; i++) {
      const id = generateSessionId();
      ids.push(id);
      await t.store.create(id, record({ i }));
    }
    let seen = 0;
    for await (const _ of t.store.all()) {
      if (seen === 0) for (const id of ids.slice(40)) await t.store.destroy(id);
      seen++;
    }
    assert.ok(seen >= 40 && seen <= 80);
    await t.store.clear();
  });

  it('concurrent updates and touches of one id never fail with ENOENT/EEXIST and all land', async () => {
    const id = generateSessionId();
    await t.store.create(id, record());
    const ops = Array.from({ length: 100 }, (_, i) =>
      i % 2
        ? t.store.update(id, { set: { [`k${i}`]: i } }, Date.now() + HOUR)
        : t.store.touch(id, Date.now() + HOUR),
    );
    assert.ok((await Promise.all(ops)).every((r) => r === true));
    const got = await t.store.get(id);
    for (let i = 1; i < 100; i += 2) assert.equal(got?.data[`k${i}`], i);
    const names = await readdir(t.dir);
    assert.deepEqual(
      names.filter((n) => n.startsWith(plainName(id))),
      [plainName(id)],
      'no temp file left',
    );
    await t.store.clear();
  });

  it('only one sweep runs at a time; the timer is unref()d and close() stops it', async () => {
    const p1 = t.store.cleanup();
    const p2 = t.store.cleanup();
    assert.equal(p1, p2);
    await p1;
    // Every sweep a full scan: the session expires within the hour the index sweeps after.
    const store = new FileStore({
      path: t.dir,
      cleanupInterval: 20,
      fullSweepInterval: 1,
      onError: () => {},
    });
    const id = generateSessionId();
    await store.create(id, record({}, { ttl: 30 }));
    store.startCleanup();
    store.startCleanup();
    await sleep(120);
    assert.equal(await store.length(), 0, 'the timer swept the expired session');
    await store.close();
    await store.close();
    // Observed through the open store on the same directory: the closed one must not sweep.
    await t.store.create(generateSessionId(), record({}, { ttl: 10 }));
    await sleep(80);
    assert.equal(await t.store.length(), 1, 'no sweep after close()');
    await t.store.clear();
  });

  it('startCleanup() sweeps at once, not only after the first interval', async () => {
    const store = new FileStore({ path: t.dir, cleanupInterval: 3_600_000, onError: () => {} });
    await writeRawSession(t.dir, generateSessionId(), record({}, { ttl: -1000 }));
    store.startCleanup();
    await store.close();
    assert.equal(await t.store.length(), 0);
  });
});

/** A full scan of `dir` by a store whose every sweep is one (temp files, locks: see cleanup.ts). */
async function fullScan(dir: string): Promise<void> {
  const store = new FileStore({ path: dir, fullSweepInterval: 1 });
  await store.cleanup();
  await store.close();
}
