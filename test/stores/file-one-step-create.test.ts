/**
 * FileStore creates a small session file in one step (exclusive open of the final name, one
 * write) where a rewrite would go in place. A zero-byte session file — what a crash between that
 * open and its write leaves — reads as no session, is never quarantined or reported, and is
 * replaced by the next create or removed by a sweep. A failure after the open leaves no file.
 */
import assert from 'node:assert/strict';
import { watch } from 'node:fs';
import { lstat, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { FileCodec } from '../../src/stores/file/format.js';
import { syncFs } from '../../src/stores/file/fs.js';
import type { FileIoContext } from '../../src/stores/file/io.js';
import { createSessionFileInOneStep } from '../../src/stores/file/write.js';
import {
  entries,
  fsError,
  instrumented,
  plainName,
  removeDir,
  setup,
  tempDir,
} from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

function context(dir: string, fs = syncFs): FileIoContext {
  return {
    fs,
    dir,
    codec: new FileCodec(),
    maxFileSize: 1024 * 1024,
    uid: process.getuid?.(),
    fsync: false,
    chmodFiles: false,
  };
}

describe('FileStore: one-step create', () => {
  it('a new session leaves exactly its own file, 0600, with no temp file beside it', async () => {
    const t = await setup();
    const id = generateSessionId();
    // inotify shows every name the create makes in the directory: only the session's own.
    const seen = new Set<string>();
    const watcher = watch(t.dir, (_event, name) => {
      if (name) seen.add(String(name));
    });
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    await sleep(100);
    watcher.close();
    assert.deepEqual([...seen], [plainName(id)]);
    assert.deepEqual(await entries(t.dir), [plainName(id)]);
    const info = await lstat(join(t.dir, plainName(id)));
    assert.equal(info.mode & 0o777, 0o600);
    assert.deepEqual({ ...(await t.store.get(id))?.data }, { a: 1 });
    assert.equal(await t.store.create(id, record({ a: 2 })), false, 'a live id stays taken');
    assert.deepEqual({ ...(await t.store.get(id))?.data }, { a: 1 });
    await removeDir(t.root);
  });

  it('a zero-byte session file reads as no session, is not quarantined and is not reported', async () => {
    const t = await setup();
    const id = generateSessionId();
    const file = join(t.dir, plainName(id));
    await writeFile(file, '', { mode: 0o600 });
    assert.equal(await t.store.get(id), undefined);
    assert.equal(await t.store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
    assert.equal(await t.store.touch(id, Date.now() + HOUR), false);
    assert.equal((await lstat(file)).size, 0, 'an update or touch never fills it in');
    await assert.rejects(lstat(`${file}.corrupt`), { code: 'ENOENT' });
    const listed = [];
    for await (const entry of t.store.all()) listed.push(entry);
    assert.deepEqual(listed, []);
    assert.deepEqual(t.errors, []);
    await removeDir(t.root);
  });

  it('a create over a zero-byte file of its id succeeds and holds the new session', async () => {
    const t = await setup();
    const id = generateSessionId();
    await writeFile(join(t.dir, plainName(id)), '', { mode: 0o600 });
    assert.equal(await t.store.create(id, record({ b: 2 })), true);
    assert.deepEqual({ ...(await t.store.get(id))?.data }, { b: 2 });
    assert.deepEqual(await entries(t.dir), [plainName(id)]);
    assert.deepEqual(t.errors, []);
    await removeDir(t.root);
  });

  it('a sweep removes a zero-byte file left by a crash and keeps live sessions', async () => {
    const t = await setup();
    const live = generateSessionId();
    await t.store.create(live, record({ c: 3 }));
    const empty = join(t.dir, plainName(generateSessionId()));
    await writeFile(empty, '', { mode: 0o600 });
    const past = (Date.now() - 60_000) / 1000;
    await utimes(empty, past, past);
    await t.store.cleanup();
    await assert.rejects(lstat(empty), { code: 'ENOENT' });
    assert.deepEqual({ ...(await t.store.get(live))?.data }, { c: 3 });
    assert.deepEqual(t.errors, []);
    await removeDir(t.root);
  });

  it('a write that fails after the open (ENOSPC) rejects and removes the file it created', async () => {
    const dir = await tempDir();
    const fs = instrumented((call) => {
      if (call === 'write') throw fsError('ENOSPC');
    });
    const name = plainName(generateSessionId());
    await assert.rejects(
      createSessionFileInOneStep(context(dir, fs), name, Buffer.from('{}'), Date.now() + HOUR),
      { code: 'ENOSPC' },
    );
    assert.deepEqual(await readdir(dir), []);
    await removeDir(dir);
  });

  it('an existing name (a live file, or a symlink planted there) is refused without touching it', async () => {
    const dir = await tempDir();
    const name = plainName(generateSessionId());
    await writeFile(join(dir, name), 'theirs', { mode: 0o600 });
    const ctx = context(dir);
    assert.equal(await createSessionFileInOneStep(ctx, name, Buffer.from('{}'), Date.now()), false);
    assert.equal(await readFile(join(dir, name), 'utf8'), 'theirs');
    await removeDir(dir);
  });
});
