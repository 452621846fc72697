/**
 * FileStore's user index: the tier's compliance suite (file-system calls counted), the HTTP
 * suite, with and without `multiProcess`, and what is specific to files: per-user marker files
 * that never name a user or a session.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateSessionId } from '../../src/id.js';
import { FileStore, type FileStoreOptions } from '../../src/stores/file/file-store.js';
import { USER_BINDING_KEY } from '../../src/types.js';
import { countingFs, removeDir, tempDir } from '../helpers/file-store.js';
import { describeUserIndex } from './user-index-compliance.js';
import { describeUserSessionsHttp } from './user-sessions-http.js';

async function markers(dir: string): Promise<number> {
  const users = join(dir, 'users');
  let count = 0;
  for (const entry of await readdir(users, { withFileTypes: true }).catch(() => [])) {
    if (entry.isDirectory()) count += (await readdir(join(users, entry.name))).length;
  }
  return count;
}

for (const [label, options] of [
  ['FileStore', {}],
  ['FileStore (multiProcess)', { multiProcess: true }],
] as [string, FileStoreOptions][]) {
  describeUserIndex(
    label,
    async () => {
      const root = await tempDir();
      const calls: string[] = [];
      const store = new FileStore({
        path: join(root, 'sessions'),
        fs: countingFs(calls),
        onError: () => {},
        ...options,
      });
      return {
        store,
        operations: () => calls.length,
        // Without multiProcess every raise goes through this process, which then holds it.
        epochWithRecord: options.multiProcess ? 'never' : 'once-known',
        cleanup: () => removeDir(root),
      };
    },
    { users: 400 },
  );

  describeUserSessionsHttp(label, async () => {
    const root = await tempDir();
    const dir = join(root, 'sessions');
    const store = new FileStore({ path: dir, onError: () => {}, ...options });
    return { store, indexSize: () => markers(dir), cleanup: () => removeDir(root) };
  });
}

describe('FileStore user index: on disk', () => {
  let root: string;
  after(() => removeDir(root));

  it('keeps markers and epochs under users/, named by hashes, and prunes them when read', async () => {
    root = await tempDir();
    const dir = join(root, 'sessions');
    const store = new FileStore({ path: dir, onError: () => {} });
    const id = generateSessionId();
    const now = Date.now();
    const data = { [USER_BINDING_KEY]: { id: 'mallory@example.com', epoch: 0 } };
    await store.createForUser(
      id,
      { data, createdAt: now, expiresAt: now + 60_000 },
      'mallory@example.com',
    );
    await store.raiseUserEpoch('mallory@example.com', now);
    const names = await readdir(join(dir, 'users'), { recursive: true });
    assert.equal(names.length, 3, names.join(', '));
    for (const name of names) {
      assert.ok(!name.includes('mallory') && !name.includes(id), name);
    }
    assert.equal(await markers(dir), 1);
    assert.equal(await store.length(), 1, 'the index is not a session');
    await store.destroy(id);
    assert.deepEqual(await store.listUser('mallory@example.com'), []);
    assert.equal(await markers(dir), 0, 'the stale marker went when the listing read it');
    await store.close();
  });
});
