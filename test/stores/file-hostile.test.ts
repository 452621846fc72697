/**
 * FileStore against hostile on-disk content: invalid files read as absent and are quarantined; symlinks,
 * FIFOs and directories at a session path are never followed, read or written through; the
 * encrypted format detects tampering and wrong keys.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { KEY, plainContent, plainName, setup, writeRawSession } from '../helpers/file-store.js';
import { HOUR, record } from '../helpers/records.js';

describe('FileStore: hostile on-disk content', () => {
  const huge = randomBytes(1024 * 1024);
  const badContents: Array<[string, (id: string) => string | Buffer]> = [
    ['only whitespace', () => '   '],
    ['{', () => '{'],
    ['null', () => 'null'],
    ['[]', () => '[]'],
    ['"s"', () => '"s"'],
    ['{} without metadata', () => '{}'],
    ['data only', () => '{"data":{"a":1}}'],
    ['no createdAt', (id) => JSON.stringify({ v: 1, id, expiresAt: Date.now() + HOUR, data: {} })],
    [
      'expiresAt "never"',
      (id) => JSON.stringify({ v: 1, id, createdAt: 1, expiresAt: 'never', data: {} }),
    ],
    [
      'expiresAt 1e309',
      (id) => plainContent(id, record()).replace(/"expiresAt":\d+/, '"expiresAt":1e309'),
    ],
    [
      'negative createdAt',
      (id) => JSON.stringify({ v: 1, id, createdAt: -5, expiresAt: Date.now() + HOUR, data: {} }),
    ],
    [
      'data is an array',
      (id) => JSON.stringify({ v: 1, id, createdAt: 1, expiresAt: Date.now() + HOUR, data: [] }),
    ],
    ['another id', () => plainContent(generateSessionId(), record())],
    ['trailing garbage', (id) => `${plainContent(id, record())}garbage`],
    ['random bytes', () => huge],
  ];

  for (const [label, content] of badContents) {
    it(`${label}: get resolves undefined, the file is quarantined, all() skips it`, async () => {
      const t = await setup();
      const id = generateSessionId();
      const file = join(t.dir, plainName(id));
      await writeFile(file, content(id), { mode: 0o600 });
      assert.equal(await t.store.get(id), undefined);
      await assert.rejects(lstat(file), { code: 'ENOENT' });
      assert.ok((await lstat(`${file}.corrupt`)).isFile());
      assert.equal(t.errors.length, 1);
      assert.ok(!t.errors[0]?.message.includes(id));
      assert.equal(await t.store.update(id, { set: { a: 1 } }, Date.now() + HOUR), false);
      // all() skips (and quarantines) a bad file too.
      const other = generateSessionId();
      await writeFile(join(t.dir, plainName(other)), content(other), { mode: 0o600 });
      const seen = [];
      for await (const entry of t.store.all()) seen.push(entry);
      assert.deepEqual(seen, []);
      assert.ok((await lstat(join(t.dir, `${plainName(other)}.corrupt`))).isFile());
      // The id can be used again.
      assert.equal(await t.store.create(id, record({ fresh: true })), true);
      assert.equal((await t.store.get(id))?.data.fresh, true);
      await t.done();
    });
  }

  it('an oversized file is refused (maxFileSize) and quarantined', async () => {
    const t = await setup({ maxFileSize: 1024 });
    const id = generateSessionId();
    await writeRawSession(t.dir, id, record({ big: 'x'.repeat(2000) }));
    assert.equal(await t.store.get(id), undefined);
    assert.match(t.errors[0]?.message ?? '', /maxFileSize/);
    await t.done();
  });

  it('a planted multi-MiB file is refused by its size with the default options, never parsed on the request path', async () => {
    const t = await setup();
    const id = generateSessionId();
    // Well-formed, so only its size can stop it: parsing 3 MiB synchronously would hold the
    // event loop for over a hundred milliseconds.
    await writeRawSession(t.dir, id, record({ junk: 'x'.repeat(3 * 1024 * 1024) }));
    assert.equal(await t.store.get(id), undefined);
    assert.match(t.errors[0]?.message ?? '', /maxFileSize/);
    assert.ok((await lstat(join(t.dir, `${plainName(id)}.corrupt`))).isFile());
    await t.done();
  });

  it('a file owned by another uid is refused', {
    skip: process.getuid?.() !== 0 && 'needs root for chown',
  }, async () => {
    const t = await setup();
    const id = generateSessionId();
    const file = await writeRawSession(t.dir, id, record({ a: 1 }));
    await chown(file, 1234, 1234);
    assert.equal(await t.store.get(id), undefined);
    assert.match(t.errors[0]?.message ?? '', /another user/);
    await t.done();
  });

  it('a stored __proto__ key loads inertly', async () => {
    const t = await setup();
    const id = generateSessionId();
    const rec = record();
    const raw = plainContent(id, rec).replace(
      '"data":{}',
      '"data":{"__proto__":{"isAdmin":true},"x":1}',
    );
    await writeFile(join(t.dir, plainName(id)), raw, { mode: 0o600 });
    const got = await t.store.get(id);
    assert.ok(got);
    assert.equal(Object.getPrototypeOf(got.data), null);
    assert.equal((got.data as Record<string, unknown>).isAdmin, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    assert.equal(got.data.x, 1);
    await t.done();
  });

  it('a symlink at a session path is neither read nor written through', async () => {
    const t = await setup();
    const victim = join(t.root, 'victim.json');
    const id = generateSessionId();
    const victimContent = plainContent(id, record({ stolen: true }));
    await writeFile(victim, victimContent);
    const file = join(t.dir, plainName(id));
    await symlink(victim, file);
    assert.equal(await t.store.get(id), undefined);
    assert.equal(await readFile(victim, 'utf8'), victimContent);
    await symlink(victim, file).catch(() => {});
    assert.equal(await t.store.update(id, { set: { owned: 1 } }, Date.now() + HOUR), false);
    assert.equal(await t.store.touch(id, Date.now() + HOUR), false);
    await symlink(victim, file).catch(() => {});
    assert.equal(await t.store.create(id, record({ mine: true })), true);
    assert.equal(await readFile(victim, 'utf8'), victimContent, 'victim untouched');
    assert.ok((await lstat(file)).isFile(), 'a real file replaced the link');
    assert.equal((await t.store.get(id))?.data.mine, true);
    await t.done();
  });

  it('a FIFO at a session path does not hang get', async () => {
    const t = await setup();
    const id = generateSessionId();
    execFileSync('mkfifo', [join(t.dir, plainName(id))]);
    const started = Date.now();
    const result = await Promise.race([t.store.get(id), sleep(1000).then(() => 'timeout')]);
    assert.equal(result, undefined);
    assert.ok(Date.now() - started < 1000);
    await t.done();
  });

  it('a directory at a session path reads as absent', async () => {
    const t = await setup();
    const id = generateSessionId();
    await mkdir(join(t.dir, plainName(id)));
    assert.equal(await t.store.get(id), undefined);
    assert.equal(await t.store.create(id, record({ a: 1 })), true);
    assert.equal((await t.store.get(id))?.data.a, 1);
    await t.done();
  });
});

describe('FileStore: encryption at rest', () => {
  it('no plaintext in the file; a flipped byte or a wrong key reads as absent', async () => {
    const t = await setup({ encryptionKey: KEY });
    const id = generateSessionId();
    const canary = 'CANARY-7f3a9c';
    await t.store.create(id, record({ secret: canary }));
    const file = t.store._getFilePath(id);
    const bytes = await readFile(file);
    assert.ok(!bytes.includes(canary));
    assert.ok(!bytes.includes(id));
    assert.equal((await t.store.get(id))?.data.secret, canary);

    const wrongKey = new FileStore({
      path: t.dir,
      encryptionKey: 'w'.repeat(40),
      onError: () => {},
    });
    assert.equal(await wrongKey.get(id), undefined, 'a wrong key does not even find the file');
    const plain = new FileStore({ path: t.dir, onError: () => {} });
    assert.equal(await plain.get(id), undefined);

    const envelope = JSON.parse(bytes.toString()) as { ct: string };
    const ct = Buffer.from(envelope.ct, 'base64');
    ct[5] = (ct[5] as number) ^ 1;
    await writeFile(file, JSON.stringify({ ...envelope, ct: ct.toString('base64') }));
    assert.equal(await t.store.get(id), undefined);
    assert.match(t.errors[0]?.message ?? '', /decryption failed/);
    await t.done();
  });

  it('a file copied over another session name does not decrypt (name is the AAD)', async () => {
    const t = await setup({ encryptionKey: KEY });
    const a = generateSessionId();
    const b = generateSessionId();
    await t.store.create(a, record({ who: 'a' }));
    await t.store.create(b, record({ who: 'b' }));
    await writeFile(t.store._getFilePath(b), await readFile(t.store._getFilePath(a)));
    assert.equal(await t.store.get(b), undefined);
    assert.equal((await t.store.get(a))?.data.who, 'a');
    await t.done();
  });
});
