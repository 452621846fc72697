/**
 * FileStore's expiry index (`expiry/`): a regular sweep reads only the index's files of the
 * hours that have passed, so its cost follows the expired sessions; full scans find what the
 * index does not know. Time is moved forward by replacing `Date.now` (the store's only clock; the
 * files' mtimes are set from the expiry it is given).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, lstat, mkdir, open, readFile, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InvalidOptionError, StoreWriteError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { defaultFs, type FileStoreFs } from '../../src/stores/file/fs.js';
import {
  countingFs,
  entries,
  plainName,
  removeDir,
  setup,
  tempDir,
  writeRawSession,
} from '../helpers/file-store.js';
import { HOUR, MINUTE, record } from '../helpers/records.js';

const WRITER = fileURLToPath(new URL('../fixtures/file-expiry-writer.ts', import.meta.url));
const run = promisify(execFile);
const DAY = 24 * HOUR;
const bucketOf = (time: number) => Math.floor(time / HOUR) * HOUR;
const bucketFile = (dir: string, time: number) => join(dir, 'expiry', String(bucketOf(time)));

/** Lines of the index file of the hour of `time` (none when it is missing). */
async function indexed(dir: string, time: number): Promise<string[]> {
  try {
    return (await readFile(bucketFile(dir, time), 'latin1')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Writes sessions straight in the on-disk format, index lines included (as the store does). */
async function plant(dir: string, count: number, expiresAt: number): Promise<string[]> {
  await mkdir(join(dir, 'expiry'), { recursive: true, mode: 0o700 });
  const names: string[] = [];
  for (let i = 0; i < count; i += 64) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(64, count - i) }, async () => {
        const id = generateSessionId();
        await writeRawSession(dir, id, record({ i }, { expiresAt }));
        return plainName(id);
      }),
    );
    await appendFile(bucketFile(dir, expiresAt), batch.map((n) => `${n}\n`).join(''));
    names.push(...batch);
  }
  return names;
}

/** Records that a full scan started at `time` is complete (the index covers every file). */
async function markComplete(dir: string, time = Date.now()): Promise<void> {
  const handle = await open(join(dir, 'expiry', 'full-scan'), 'w', 0o600);
  await handle.utimes(time / 1000, time / 1000);
  await handle.close();
}

/** Moves the store's clock to `time` until the test ends. */
function clockAt(time: number): void {
  mock.method(Date, 'now', () => time);
}

const gone = async (path: string) =>
  assert.rejects(lstat(path), { code: 'ENOENT' }, `${path} should be gone`);

describe('FileStore expiry index: a sweep costs O(expired)', () => {
  it('10 expired among 1,000 or 10,000 live: the same file calls, exactly the expired removed', async () => {
    const counts: Record<string, number>[] = [];
    for (const live of [1_000, 10_000]) {
      const dir = await tempDir('ssjs-file-expiry-');
      const keep = new Set(await plant(dir, live, Date.now() + DAY));
      await plant(dir, 10, Date.now() - 2 * HOUR);
      await markComplete(dir);
      const calls: string[] = [];
      const errors: Error[] = [];
      const store = new FileStore({
        path: dir,
        fs: countingFs(calls),
        onError: (e) => errors.push(e),
      });
      await store.ensureDirectory();
      calls.length = 0;
      assert.equal(await store.cleanup(), 10);
      assert.deepEqual(errors, []);
      const remaining = await entries(dir);
      assert.equal(remaining.length, live);
      for (const name of remaining) assert.ok(keep.has(name), 'a live session was removed');
      const count: Record<string, number> = {};
      for (const call of calls) count[call] = (count[call] ?? 0) + 1;
      counts.push(count);
      await store.close();
      await removeDir(dir);
    }
    assert.deepEqual(counts[0], counts[1]);
    const [count] = counts as [Record<string, number>];
    assert.equal(count.opendir, 1, 'the session directory is not listed');
    assert.ok((count.lstatIfExists ?? 0) <= 12, `${count.lstatIfExists} lstat calls`);
  });
});

describe('FileStore expiry index: renewals, crashes and full scans', () => {
  let t: Awaited<ReturnType<typeof setup>>;
  let start: number;
  before(async () => {
    t = await setup();
  });
  after(() => t.done());

  it('a session renewed into a later hour survives the earlier hour sweep and goes with its own', async () => {
    start = Date.now();
    await t.store.cleanup();
    const id = generateSessionId();
    await t.store.create(id, record({ n: 0 }, { expiresAt: start + 10 * MINUTE }));
    assert.deepEqual(await indexed(t.dir, start + 10 * MINUTE), [plainName(id)]);
    assert.equal(await t.store.update(id, { set: { n: 1 } }, start + 3 * HOUR), true);
    assert.deepEqual(await indexed(t.dir, start + 3 * HOUR), [plainName(id)]);
    // Not in the index: only a full scan would remove it.
    const stray = await writeRawSession(t.dir, generateSessionId(), record({}, { ttl: -1000 }));
    clockAt(start + 2 * HOUR);
    assert.equal(await t.store.cleanup(), 0);
    assert.equal((await t.store.get(id))?.data.n, 1);
    await gone(bucketFile(t.dir, start + 10 * MINUTE));
    await lstat(stray);
    clockAt(start + 5 * HOUR);
    assert.equal(await t.store.cleanup(), 1);
    await gone(t.store._getFilePath(id));
    await gone(bucketFile(t.dir, start + 3 * HOUR));
    await lstat(stray);
    assert.deepEqual(t.errors, []);
    mock.restoreAll();
    await t.store.clear();
  });

  it('a renewal within the hour writes nothing to the index', async () => {
    const expiresAt = bucketOf(Date.now()) + 5 * HOUR;
    const id = generateSessionId();
    await t.store.create(id, record({}, { expiresAt }));
    for (let i = 1; i <= 3; i++) await t.store.touch(id, expiresAt + i * 1000);
    assert.deepEqual(await indexed(t.dir, expiresAt), [plainName(id)]);
    await t.store.clear();
  });

  it('a crash between the index line and the session file leaves nothing wrong', async () => {
    const now = Date.now();
    // A line whose file was never written.
    await appendFile(bucketFile(t.dir, now - 2 * HOUR), `${'c'.repeat(64)}.json\n`);
    // A create whose write fails after its line was appended.
    const failing: FileStoreFs = {
      ...defaultFs,
      open: (path, flags, mode) =>
        path.endsWith('.tmp')
          ? Promise.reject(Object.assign(new Error('no space'), { code: 'ENOSPC' }))
          : defaultFs.open(path, flags, mode),
    };
    const errors: Error[] = [];
    const store = new FileStore({ path: t.dir, fs: failing, onError: (e) => errors.push(e) });
    const id = generateSessionId();
    await assert.rejects(store.create(id, record({}, { expiresAt: now + HOUR })), StoreWriteError);
    assert.deepEqual(await indexed(t.dir, now + HOUR), [plainName(id)]);
    assert.equal(await store.get(id), undefined);
    clockAt(now + 3 * HOUR);
    assert.equal(await store.cleanup(), 0);
    assert.deepEqual(errors, []);
    await gone(bucketFile(t.dir, now - 2 * HOUR));
    await gone(bucketFile(t.dir, now + HOUR));
    mock.restoreAll();
    await store.close();
  });

  it('files written without the index go with a full scan: new index, startCleanup, fullSweepInterval', async () => {
    const now = Date.now();
    // A directory of an older version: no `expiry/` at all.
    const dir = await tempDir('ssjs-file-expiry-old-');
    const old = [];
    for (let i = 0; i < 3; i++)
      old.push(await writeRawSession(dir, generateSessionId(), record({}, { ttl: -MINUTE })));
    const liveIds = [generateSessionId(), generateSessionId()];
    for (const id of liveIds) await writeRawSession(dir, id, record({}, { expiresAt: now + HOUR }));
    const store = new FileStore({ path: dir, fullSweepInterval: 3 * HOUR });
    assert.equal(await store.cleanup(), 3, 'the first sweep of a new index is a full scan');
    for (const file of old) await gone(file);
    // The live files it saw are indexed, so they expire through the index from now on.
    assert.deepEqual((await indexed(dir, now + HOUR)).sort(), liveIds.map(plainName).sort());
    const stray = await writeRawSession(dir, generateSessionId(), record({}, { ttl: -MINUTE }));
    assert.equal(await store.cleanup(), 0, 'a regular sweep reads the index only');
    clockAt(now + 2 * HOUR + MINUTE);
    assert.equal(await store.cleanup(), 2);
    await lstat(stray);
    // fullSweepInterval (3 hours here) after the last full scan: the next sweep is one.
    clockAt(now + 3 * HOUR + MINUTE);
    assert.equal(await store.cleanup(), 1);
    await gone(stray);
    mock.restoreAll();
    // startCleanup's first sweep is a full scan whatever the index says.
    const another = await writeRawSession(dir, generateSessionId(), record({}, { ttl: -MINUTE }));
    const restarted = new FileStore({ path: dir });
    await markComplete(dir);
    restarted.startCleanup();
    await restarted.close();
    await gone(another);
    await store.close();
    await removeDir(dir);
  });

  it('an unreadable line or a planted entry in the index is ignored and reported; the sweep goes on', async () => {
    const now = Date.now();
    await markComplete(t.dir);
    const [expired] = await plant(t.dir, 1, now - 2 * HOUR);
    const file = bucketFile(t.dir, now - 2 * HOUR);
    await appendFile(file, `garbage\n../../etc/passwd\n${'x'.repeat(300)}\n${'a'.repeat(64)}.json`);
    // A symlink where a bucket file should be: removed, its target untouched.
    const planted = bucketFile(t.dir, now - 3 * HOUR);
    await symlink(join(t.dir, 'target'), planted);
    await appendFile(join(t.dir, 'target'), `${expired}\n`);
    const errors: Error[] = [];
    const store = new FileStore({ path: t.dir, onError: (e) => errors.push(e) });
    assert.equal(await store.cleanup(), 1);
    await gone(join(t.dir, expired as string));
    await gone(file);
    await gone(planted);
    await lstat(join(t.dir, 'target'));
    const messages = errors.map((e) => e.message).join('\n');
    assert.match(messages, /ignored 4 unreadable line\(s\)/);
    assert.match(messages, /expiry index file .*ELOOP/);
    await rm(join(t.dir, 'target'));
    await store.close();
  });

  it('clear() empties the index, and later creates are indexed again', async () => {
    const expiresAt = Date.now() + 2 * HOUR;
    for (let i = 0; i < 3; i++)
      await t.store.create(generateSessionId(), record({}, { expiresAt }));
    assert.equal((await indexed(t.dir, expiresAt)).length, 3);
    await t.store.clear();
    assert.equal((await stat(bucketFile(t.dir, expiresAt))).size, 0);
    const id = generateSessionId();
    await t.store.create(id, record({}, { expiresAt }));
    assert.deepEqual(await indexed(t.dir, expiresAt), [plainName(id)]);
    await t.store.clear();
  });

  it('a forward is indexed and removed by the sweep of its hour', async () => {
    const now = Date.now();
    const oldId = generateSessionId();
    const newId = generateSessionId();
    await t.store.create(oldId, record({ a: 1 }, { ttl: DAY }));
    const moved = await t.store.move(oldId, newId, {
      keep: true,
      createdAt: now,
      expiresAt: now + DAY,
      forwardUntil: now + MINUTE,
    });
    assert.equal(moved.status, 'moved');
    const forward = `${t.store._getFilePath(oldId)}.moved`;
    assert.deepEqual(await indexed(t.dir, now + MINUTE), [`${plainName(oldId)}.moved`]);
    clockAt(now + 2 * HOUR);
    await t.store.cleanup();
    await gone(forward);
    assert.equal((await t.store.get(newId))?.data.a, 1);
    mock.restoreAll();
    await t.store.clear();
  });

  it('the index directory: recreated when deleted, refused as a symlink; a failed append fails the write', async () => {
    const expiresAt = Date.now() + HOUR;
    await t.store.create(generateSessionId(), record({}, { expiresAt: expiresAt + 5 * HOUR }));
    await rm(join(t.dir, 'expiry'), { recursive: true });
    const id = generateSessionId();
    await t.store.create(id, record({}, { expiresAt }));
    assert.deepEqual(await indexed(t.dir, expiresAt), [plainName(id)]);
    assert.equal((await stat(join(t.dir, 'expiry'))).mode & 0o777, 0o700);
    // More hours than descriptors kept open: every line still lands.
    const ids = Array.from({ length: 6 }, () => generateSessionId());
    for (const [i, each] of ids.entries()) {
      await t.store.create(each, record({}, { expiresAt: expiresAt + (i + 1) * HOUR }));
    }
    for (const [i, each] of ids.entries()) {
      assert.deepEqual(await indexed(t.dir, expiresAt + (i + 1) * HOUR), [plainName(each)]);
    }
    // An index that can't be written: the session is not written either.
    const refusing: FileStoreFs = {
      ...defaultFs,
      open: (path, flags, mode) =>
        path.includes(`${'expiry'}/`)
          ? Promise.reject(Object.assign(new Error('denied'), { code: 'EACCES' }))
          : defaultFs.open(path, flags, mode),
    };
    const store = new FileStore({ path: t.dir, fs: refusing });
    const refused = generateSessionId();
    await assert.rejects(store.create(refused, record()), StoreWriteError);
    await gone(store._getFilePath(refused));
    await store.close();
    await t.store.clear();
    const dir = await tempDir('ssjs-file-expiry-link-');
    await symlink(await tempDir('ssjs-file-expiry-elsewhere-'), join(dir, 'expiry'));
    await assert.rejects(new FileStore({ path: dir }).ensureDirectory(), InvalidOptionError);
    await removeDir(dir);
  });

  it('multiProcess: processes appending to one hour all land, one whole line each', async () => {
    const dir = await tempDir('ssjs-file-expiry-mp-');
    const expiresAt = Date.now() + 2 * HOUR;
    const outputs = await Promise.all(
      [0, 1].map(() =>
        run(process.execPath, ['--import', 'tsx', WRITER, dir, '300', String(expiresAt)]),
      ),
    );
    const written = outputs.flatMap((o) => JSON.parse(o.stdout) as string[]);
    assert.equal(written.length, 600);
    const lines = await indexed(dir, expiresAt);
    assert.equal(lines.length, 600);
    assert.deepEqual([...lines].sort(), [...written].sort());
    await removeDir(dir);
  });
});
