/**
 * Several processes on one FileStore directory (Node cluster, PM2): with `multiProcess: true`,
 * key-level writes from different processes to the same sessions all land, and no file is
 * ever corrupt.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { entries, removeDir, tempDir } from '../helpers/file-store.js';
import { record } from '../helpers/records.js';

const WRITER = fileURLToPath(new URL('../fixtures/file-mp-writer.ts', import.meta.url));
const run = promisify(execFile);

const CHILDREN = 3;
const KEYS = 60;
const SESSIONS = 4;

async function writeFromChildren(multiProcess: boolean) {
  const dir = await tempDir('ssjs-file-mp-');
  const errors: Error[] = [];
  const store = new FileStore({ path: dir, onError: (e) => errors.push(e) });
  const ids = Array.from({ length: SESSIONS }, () => generateSessionId());
  for (const id of ids) await store.create(id, record({ base: true }));
  const outputs = await Promise.all(
    Array.from({ length: CHILDREN }, (_, i) =>
      run(process.execPath, [
        '--import',
        'tsx',
        WRITER,
        dir,
        String(i),
        String(KEYS),
        multiProcess ? '1' : '0',
        ...ids,
      ]),
    ),
  );
  let missing = 0;
  for (const id of ids) {
    const got = await store.get(id);
    assert.ok(got, 'a session file is unreadable');
    assert.equal(got.data.base, true);
    for (let i = 0; i < CHILDREN; i++) {
      for (let k = 0; k < KEYS; k++) if (got.data[`c${i}_${k}`] !== k) missing++;
    }
  }
  const names = await entries(dir);
  await store.close();
  await removeDir(dir);
  return { outputs: outputs.map((o) => o.stdout.trim()), missing, errors, names };
}

describe('FileStore: several processes on one directory', () => {
  it(`multiProcess: ${CHILDREN} processes setting different keys of the same sessions all land`, async () => {
    const { outputs, missing, errors, names } = await writeFromChildren(true);
    assert.deepEqual(outputs, Array(CHILDREN).fill('done 0'), 'no update was refused');
    assert.equal(missing, 0, `${missing} keys were lost`);
    assert.deepEqual(errors, [], 'no file was corrupt');
    assert.equal(
      names.length,
      SESSIONS,
      `leftover files: ${names.filter((n) => !n.endsWith('.json'))}`,
    );
  });

  it('without multiProcess files are still never corrupt (lost keys are possible and documented)', async () => {
    const { outputs, missing, errors } = await writeFromChildren(false);
    assert.deepEqual(outputs, Array(CHILDREN).fill('done 0'));
    assert.deepEqual(errors, [], 'no file was corrupt');
    console.log(`# without multiProcess: ${missing} of ${CHILDREN * KEYS * SESSIONS} keys lost`);
  });
});
