/**
 * FileStore cleanup at scale: 100,000 session files, 10 % expired. The files are written
 * directly in the on-disk format (with mtime = expiresAt, as the store writes them) to keep the
 * setup fast.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { FileStore } from '../../src/stores/file/file-store.js';
import {
  countingFs,
  entries,
  plainContent,
  plainName,
  removeDir,
  tempDir,
} from '../helpers/file-store.js';
import { record } from '../helpers/records.js';

const TOTAL = 100_000;
const EXPIRED_EVERY = 10;

describe('FileStore cleanup: 100,000 sessions, 10 % expired', () => {
  let dir: string;
  const live = new Set<string>();

  before(async () => {
    dir = await tempDir('ssjs-file-cleanup-');
    // 16 writers in parallel: about twice as fast as a synchronous loop on ext4.
    let next = 0;
    const writer = async () => {
      while (next < TOTAL) {
        const i = next++;
        const id = randomBytes(24).toString('base64url');
        const expired = i % EXPIRED_EVERY === 0;
        const rec = record({ i }, { ttl: expired ? -60_000 : 3_600_000 });
        const name = plainName(id);
        const handle = await open(join(dir, name), 'wx', 0o600);
        await handle.write(plainContent(id, rec));
        await handle.utimes(rec.expiresAt / 1000, rec.expiresAt / 1000);
        await handle.close();
        if (!expired) live.add(name);
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
  });
  after(() => removeDir(dir));

  it('removes exactly the 10,000 expired files, opening only those, yielding to the event loop', async () => {
    const errors: Error[] = [];
    const calls: string[] = [];
    const store = new FileStore({
      path: dir,
      onError: (e) => errors.push(e),
      fs: countingFs(calls),
    });
    await store.ensureDirectory();
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const started = performance.now();
    const removed = await store.cleanup();
    const elapsed = performance.now() - started;
    spinning = false;
    delay.disable();
    // Speed is the benchmark suite's business (npm run bench); printed here for information.
    console.log(
      `# cleanup of ${TOTAL} files: ${elapsed.toFixed(0)} ms, removed ${removed}, ` +
        `max event-loop delay ${(delay.max / 1e6).toFixed(1)} ms, ${turns} event-loop turns`,
    );
    assert.equal(removed, TOTAL / EXPIRED_EVERY);
    assert.deepEqual(errors, []);
    const remaining = await entries(dir);
    assert.equal(remaining.length, live.size);
    for (const name of remaining) assert.ok(live.has(name), 'a live session was removed');
    // O(expired) reads: the sweep opens only files whose mtime has passed, never all 100,000.
    const opens = calls.filter((c) => c === 'open').length;
    assert.ok(opens <= (TOTAL / EXPIRED_EVERY) * 2, `the sweep opened ${opens} files`);
    // It works in batches: other work ran between them (a synchronous sweep gives 1 turn).
    assert.ok(turns >= 50, `only ${turns} event-loop turns during the sweep`);
    assert.equal(await store.cleanup(), 0);
    await store.close();
  });
});
