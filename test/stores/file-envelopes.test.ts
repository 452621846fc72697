/**
 * FileStore encryption: the key may be a Buffer as well as a string (too short or of another
 * kind is refused, never echoed); a planted file that is not a well-formed envelope, or whose
 * authentic plaintext is not JSON, reads as no session, is moved aside and reported; a plain
 * file whose id is not a session id is refused the same way.
 */
import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { lstat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidOptionError } from '../../src/errors.js';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { KEY, plainName, removeDir, setup, tempDir } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

const envelope = (fields: Record<string, unknown>) =>
  JSON.stringify({
    v: 1,
    alg: 'aes-256-gcm',
    iv: randomBytes(12).toString('base64'),
    tag: randomBytes(16).toString('base64'),
    ct: randomBytes(40).toString('base64'),
    ...fields,
  });

/** An authentic envelope of `plain` for the file `name` under `key`, as the store writes one. */
function seal(key: string, name: string, plain: string): string {
  const salt = Buffer.from('session-store-js FileStore v1', 'utf8');
  const contentKey = Buffer.from(hkdfSync('sha256', Buffer.from(key), salt, 'file content', 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', contentKey, iv);
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return envelope({
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ct: ct.toString('base64'),
  });
}

describe('FileStore encryptionKey kinds', () => {
  it('a 32-byte Buffer key encrypts and reads back; the same bytes as a string name the same files', async () => {
    const dir = await tempDir();
    const bytes = Buffer.from('b'.repeat(32));
    const store = new FileStore({ path: dir, encryptionKey: bytes });
    const id = generateSessionId();
    assert.equal(await store.create(id, record({ user: 'ada' })), true);
    const same = new FileStore({ path: dir, encryptionKey: 'b'.repeat(32) });
    assert.equal((await same.get(id))?.data.user, 'ada');
    assert.notEqual(basename(store._getFilePath(id)), plainName(id));
    await store.close();
    await same.close();
    await removeDir(dir);
  });

  it('a key shorter than 32 bytes is refused by its size; a key of another kind by its kind', () => {
    assert.throws(
      () => new FileStore({ path: '/tmp/unused', encryptionKey: Buffer.alloc(16) }),
      (error: unknown) => error instanceof InvalidOptionError && /got 16 bytes/.test(error.message),
    );
    assert.throws(
      () => new FileStore({ path: '/tmp/unused', encryptionKey: 12345 as never }),
      (error: unknown) =>
        error instanceof InvalidOptionError &&
        /encryptionKey must be .*, got 12345/.test(error.message),
    );
  });
});

describe('FileStore: planted files that are not sessions', () => {
  const encrypted: Array<[string, (name: string) => string]> = [
    ['an array', () => '[1, 2, 3]'],
    ['an unknown version', () => envelope({ v: 2 })],
    ['another algorithm', () => envelope({ alg: 'aes-128-cbc' })],
    ['an iv that is not a string', () => envelope({ iv: 12 })],
    ['an iv of the wrong length', () => envelope({ iv: randomBytes(8).toString('base64') })],
    ['a tag of the wrong length', () => envelope({ tag: randomBytes(4).toString('base64') })],
    ['authentic plaintext that is not JSON', (name) => seal(KEY, name, '{"v":1, oops')],
  ];
  for (const [what, content] of encrypted) {
    it(`encrypted store, ${what}: no session, moved aside, reported`, async () => {
      const t = await setup({ encryptionKey: KEY });
      const id = generateSessionId();
      const file = t.store._getFilePath(id);
      await writeFile(file, content(basename(file)), { mode: 0o600 });
      assert.equal(await t.store.get(id), undefined);
      assert.equal(await t.store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
      assert.ok((await lstat(`${file}.corrupt`)).isFile());
      assert.equal(t.errors.length, 1);
      assert.match(t.errors[0]!.message, /moved an invalid session file aside/);
      assert.doesNotMatch(t.errors[0]!.message, new RegExp(id));
      await t.done();
    });
  }

  it('plain store, a file whose id is not a session id: no session, moved aside, reported', async () => {
    const t = await setup();
    const id = generateSessionId();
    const file = join(t.dir, plainName(id));
    const now = Date.now();
    const body = { v: 1, id: 'not a session id', createdAt: now, expiresAt: now + HOUR, data: {} };
    await writeFile(file, JSON.stringify(body), { mode: 0o600 });
    assert.equal(await t.store.update(id, { set: { a: 1 } }, now + HOUR), false);
    assert.ok((await lstat(`${file}.corrupt`)).isFile());
    assert.match(t.errors[0]?.message ?? '', /missing or invalid id/);
    await t.done();
  });
});
