/**
 * SIGKILL a process while it writes sessions of 1 KB–1 MB, 100 times at random moments, always in the same directory. After each kill every
 * session file must parse and hold the last acknowledged version or the single in-flight one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSessionId } from '../../src/id.js';
import { FileStore } from '../../src/stores/file/file-store.js';
import { entries, removeDir, tempDir } from '../helpers/file-store.js';

const WRITER = fileURLToPath(new URL('../fixtures/file-crash-writer.ts', import.meta.url));
const KILLS = 100;
const PARALLEL = 4;
const IDS_PER_CHILD = 3;

interface Sizes {
  label: string;
  min: number;
  max: number;
  kills: number;
}

/** Large values go through temp file + rename; small ones are rewritten in place. */
const RUNS: Sizes[] = [
  { label: 'values of 1 KB–1 MB (temp file + rename)', min: 1024, max: 1024 * 1024, kills: KILLS },
  { label: 'values of 10 B–3 KB (in-place rewrites)', min: 10, max: 3000, kills: KILLS / 2 },
];

interface Progress {
  acked: number;
  inFlight: number | undefined;
}

/** Starts a writer, kills it 0–50 ms after it is ready, and folds its report into `progress`. */
function runAndKill(
  dir: string,
  ids: string[],
  progress: Map<string, Progress>,
  sizes: Sizes,
): Promise<void> {
  const specs = ids.map((id) => {
    const p = progress.get(id) as Progress;
    return `${id}:${Math.max(p.acked, p.inFlight ?? 0) + 1}`;
  });
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, ...specs], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, CRASH_MIN: String(sizes.min), CRASH_MAX: String(sizes.max) },
  });
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (line === 'ready') {
        setTimeout(() => child.kill('SIGKILL'), Math.random() * 50);
        continue;
      }
      const [kind, id, version] = line.split(' ') as [string, string, string];
      const p = progress.get(id) as Progress;
      if (kind === 'W') p.inFlight = Number(version);
      else if (kind === 'A') {
        p.acked = Number(version);
        p.inFlight = undefined;
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited with ${code ?? signal} before it was killed`));
    });
  });
}

describe('FileStore under SIGKILL', () => {
  for (const sizes of RUNS) {
    describe(sizes.label, () => {
      let dir: string;
      before(async () => {
        dir = await tempDir('ssjs-file-crash-');
      });
      after(() => removeDir(dir));

      it(`${sizes.kills} kills at random moments leave every file whole: last acknowledged or in-flight version`, async () => {
        const groups = Array.from({ length: PARALLEL }, () =>
          Array.from({ length: IDS_PER_CHILD }, () => generateSessionId()),
        );
        const progress = new Map<string, Progress>();
        for (const id of groups.flat()) progress.set(id, { acked: 0, inFlight: undefined });
        const errors: Error[] = [];
        const reader = new FileStore({ path: dir, onError: (e) => errors.push(e) });
        let writesSeen = 0;
        let killedMidWrite = 0;

        for (let round = 0; round < sizes.kills / PARALLEL; round++) {
          await Promise.all(groups.map((ids) => runAndKill(dir, ids, progress, sizes)));
          for (const [id, p] of progress) {
            if (p.inFlight !== undefined) killedMidWrite++;
            const got = await reader.get(id);
            const allowed = [p.acked, p.inFlight].filter((v) => v !== undefined && v > 0);
            if (allowed.length === 0) {
              assert.equal(got, undefined);
              continue;
            }
            if (p.acked === 0 && got === undefined) continue; // the first create never landed
            assert.ok(got, `session with acknowledged version ${p.acked} is missing`);
            const { v, size, blob } = got.data as { v: number; size: number; blob: string };
            assert.ok(allowed.includes(v), `found version ${v}, expected one of ${allowed}`);
            assert.equal(blob.length, size);
            assert.equal(blob, String(v % 10).repeat(size));
            // The next round starts from here: what is on disk is now the acknowledged state.
            p.acked = v;
            p.inFlight = undefined;
            writesSeen = Math.max(writesSeen, v);
          }
        }
        console.log(
          `# ${sizes.kills} kills (${sizes.label}); ${killedMidWrite} writes were in flight at a kill`,
        );
        assert.deepEqual(errors, [], 'no file was ever found corrupt');
        assert.ok(writesSeen > 1, 'the writers got to write at all');
        assert.ok(killedMidWrite > 0, 'some kills hit a write in flight');

        // Temp leftovers of the kills are ignored: only the sessions are listed and counted.
        const names = await entries(dir);
        const sessions = names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n));
        assert.equal(await reader.length(), sessions.length);
        let listed = 0;
        for await (const [id] of reader.all()) {
          assert.ok(progress.has(id));
          listed++;
        }
        assert.equal(listed, sessions.length);
        assert.ok(!names.some((n) => n.endsWith('.corrupt')));
        await reader.close();
      });
    });
  }
});
