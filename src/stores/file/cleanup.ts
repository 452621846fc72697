/**
 * One cleanup sweep of a FileStore directory.
 *
 * Cost is O(files) in `readdir` + `lstat` and O(expired) in reads: every session file carries
 * its expiry in its mtime (set on each write), so only files whose mtime has passed are opened,
 * and each of those is re-checked under the session's lock before it is deleted (a session
 * touched after the listing survives). At most {@link CONCURRENCY} entries are in flight at a
 * time, and the sweep yields to the event loop every {@link YIELD_EVERY} entries. Errors go to `onError`; a sweep never throws because of one file.
 */
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { CORRUPT_FILE, FORWARD_FILE, LOCK_FILE, SESSION_FILE, scratchTime } from './format.js';
import { errorCode, type FileStoreFs, listNames, removeEntry } from './fs.js';
import { breakIfStale } from './lock.js';

/** The most entries a sweep handles at once (and so the most file-system calls in flight). */
const CONCURRENCY = 128;
/** Entries listed between two explicit yields to the event loop. */
const YIELD_EVERY = 1024;

export interface SweepTarget {
  fs: FileStoreFs;
  dir: string;
  /** Scratch files (write temps, broken locks) older than this (ms) are leftovers of a crash. */
  tempGraceMs: number;
  /** Lock files older than this (ms), or of a dead process, are broken. */
  lockStaleMs: number;
  /** Quarantined `*.corrupt` files are deleted this long (ms) after they were moved aside. */
  corruptRetentionMs: number;
  /**
   * Sweep (`everything` false): expired sessions, scratch files past `tempGraceMs`, stale locks,
   * forwards that ran out and quarantined files past `corruptRetentionMs`. Clear (`everything`
   * true): every session, forward and quarantined file too.
   */
  everything: boolean;
  /**
   * Deletes the session file `name` under its lock; in a sweep only after re-reading it and
   * finding it expired at `now`. True when it was removed.
   */
  remove(name: string, now: number): Promise<boolean>;
  onError(error: Error): void;
}

/** Runs one sweep; resolves the number of expired sessions removed. */
export async function sweep(target: SweepTarget): Promise<number> {
  const now = Date.now();
  let removed = 0;
  let active = 0;
  let seen = 0;
  let wake: (() => void) | undefined;
  const settled = (result: boolean) => {
    if (result) removed++;
    active--;
    wake?.();
  };
  const slot = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });
  for await (const name of listNames(target.fs, target.dir)) {
    while (active >= CONCURRENCY) await slot();
    active++;
    void visit(target, name, now).then(settled);
    if (++seen % YIELD_EVERY === 0) await yieldToEventLoop();
  }
  while (active > 0) await slot();
  return removed;
}

async function visit(target: SweepTarget, name: string, now: number): Promise<boolean> {
  const file = join(target.dir, name);
  try {
    if (SESSION_FILE.test(name)) {
      if (target.everything) return await target.remove(name, now);
      const stat = await target.fs.lstat(file);
      return stat.mtimeMs <= now && (await target.remove(name, now));
    }
    const created = scratchTime(name);
    if (created !== undefined) {
      if (now - created > target.tempGraceMs) await target.fs.unlink(file);
    } else if (LOCK_FILE.test(name)) {
      await breakIfStale(target.fs, target.dir, file, target.lockStaleMs);
    } else if (FORWARD_FILE.test(name)) {
      // A forward's mtime is when it runs out.
      const stat = target.everything ? undefined : await target.fs.lstat(file);
      if (!stat || stat.mtimeMs <= now) await target.fs.unlink(file);
    } else if (CORRUPT_FILE.test(name)) {
      // rename() sets ctime, so ctime is when the file was moved aside.
      const stat = target.everything ? undefined : await target.fs.lstat(file);
      if (!stat || now - stat.ctimeMs > target.corruptRetentionMs) {
        await removeEntry(target.fs, file);
      }
    }
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'ENOENT') {
      target.onError(
        new Error(`FileStore cleanup failed on one file (${code ?? error})`, {
          cause: error,
        }),
      );
    }
  }
  return false;
}
