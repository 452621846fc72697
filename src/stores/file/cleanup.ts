/**
 * Cleanup sweeps of a FileStore directory: the regular one, through the expiry index, and the
 * full scan.
 *
 * Regular sweep ({@link sweepIndex}), O(expired): reads only the bucket files of the expiry index
 * (see expiry-index.ts) whose whole hour has passed. For each name, one `lstat`: a session file
 * whose mtime (its expiry, set on each write) has passed is re-checked under the session's lock
 * and deleted (a session touched in between survives); a name whose file is gone or whose mtime
 * moved on (renewed into a later bucket, which indexed it there) is dropped. The bucket file is
 * deleted afterwards, unless a file in it could not be handled (it is then read again next time).
 *
 * Full scan ({@link sweep}), O(files) in `readdir` + `lstat` and O(expired) in reads: every entry
 * of the directory. It removes expired sessions the index does not know of, scratch files past
 * `tempGraceMs`, stale locks, forwards that ran out and quarantined files past
 * `corruptRetentionMs`, and re-indexes the live files it sees whose bucket file is missing (all of
 * them when the index is new). `clear()` is a full scan that removes everything and empties the
 * index.
 *
 * Both: at most {@link CONCURRENCY} entries in flight at a time, a yield to the event loop every
 * {@link YIELD_EVERY} entries; errors go to `onError`, never thrown because of one file.
 */
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BUCKET_FILE, BUCKET_MS, bucketOf, type ExpiryIndex } from './expiry-index.js';
import { CORRUPT_FILE, FORWARD_FILE, LOCK_FILE, SESSION_FILE, scratchTime } from './format.js';
import { errorCode, type FileStoreFs, listNames, removeEntry } from './fs.js';
import { breakIfStale } from './lock.js';

/** The most entries a sweep handles at once (and so the most file-system calls in flight). */
const CONCURRENCY = 128;
/** Entries listed between two explicit yields to the event loop. */
const YIELD_EVERY = 1024;
/** Names a full scan re-indexes in one append per bucket. */
const REINDEX_BATCH = 512;

export interface SweepTarget {
  fs: FileStoreFs;
  dir: string;
  index: ExpiryIndex;
  /** Scratch files (write temps, broken locks) older than this (ms) are leftovers of a crash. */
  tempGraceMs: number;
  /** Lock files older than this (ms), or of a dead process, are broken. */
  lockStaleMs: number;
  /** Quarantined `*.corrupt` files are deleted this long (ms) after they were moved aside. */
  corruptRetentionMs: number;
  /**
   * Full scan (`everything` false): expired sessions, scratch files past `tempGraceMs`, stale
   * locks, forwards that ran out and quarantined files past `corruptRetentionMs`. Clear
   * (`everything` true): every session, forward and quarantined file too, and the index's lines.
   */
  everything: boolean;
  /** Full scan: re-index every live file, not only those whose bucket file is missing. */
  reindexAll: boolean;
  /**
   * Deletes the session file `name` under its lock; in a sweep only after re-reading it and
   * finding it expired at `now`. True when it was removed.
   */
  remove(name: string, now: number): Promise<boolean>;
  onError(error: Error): void;
}

/** The regular sweep, through the expiry index; resolves the number of sessions removed. */
export async function sweepIndex(target: SweepTarget): Promise<number> {
  const now = Date.now();
  const { index, fs } = target;
  const due: number[] = [];
  for await (const name of listNames(fs, index.path)) {
    if (BUCKET_FILE.test(name) && Number(name) + BUCKET_MS <= now) due.push(Number(name));
  }
  let removed = 0;
  for (const bucket of due.sort((a, b) => a - b)) {
    const name = String(bucket);
    const bad = { lines: 0 };
    let failed = false;
    const visitName = async (entry: string) => {
      const result = await visitIndexed(target, entry, now);
      if (result === undefined) failed = true;
      return result === true;
    };
    try {
      removed += await eachBounded(index.names(fs, name, bad), visitName);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT') continue;
      failed = true;
      report(target, `the expiry index file ${name}`, error);
      // Something planted in the index's place (a symlink, a FIFO, a directory): it goes.
      if (code === 'ELOOP' || code === 'EFTYPE' || code === 'EISDIR' || code === 'ENXIO') {
        await removeEntry(fs, join(index.path, name)).then(
          () => {
            failed = false;
          },
          () => {},
        );
      }
    }
    if (bad.lines > 0) {
      target.onError(
        new Error(
          `FileStore cleanup ignored ${bad.lines} unreadable line(s) of the expiry index file ${name}`,
        ),
      );
    }
    if (!failed) await index.remove(fs, name);
  }
  return removed;
}

/**
 * One name of a due bucket: true when removed, false when kept or gone, undefined when it
 * could not be handled (reported).
 */
async function visitIndexed(
  target: SweepTarget,
  name: string,
  now: number,
): Promise<boolean | undefined> {
  const file = join(target.dir, name);
  try {
    const stat = await target.fs.lstatIfExists(file);
    // Gone, or renewed past this bucket (its new bucket has its name).
    if (stat === undefined || stat.mtimeMs > now) return false;
    if (SESSION_FILE.test(name)) return await target.remove(name, now);
    await target.fs.unlink(file);
    return false;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    report(target, 'one file', error);
    return undefined;
  }
}

/** The full scan (or, with `everything`, clear); resolves the number of sessions removed. */
export async function sweep(target: SweepTarget): Promise<number> {
  const now = Date.now();
  const { index, fs } = target;
  const buckets = new Set<number>();
  for await (const name of listNames(fs, index.path)) {
    if (BUCKET_FILE.test(name)) buckets.add(Number(name));
  }
  if (target.everything) {
    // Truncated, not removed: the sweep of its hour removes the empty file.
    await index.empty(fs, [...buckets].map(String)).catch((error: unknown) => {
      report(target, 'the expiry index', error);
    });
    buckets.clear();
  }
  const pending = new Map<number, string[]>();
  const flush = async (bucket: number) => {
    const names = pending.get(bucket);
    pending.delete(bucket);
    if (!names) return;
    try {
      await index.addMany(fs, bucket, names);
    } catch (error) {
      report(target, 'the expiry index', error);
    }
  };
  const reindex = async (name: string, expiresAt: number) => {
    const bucket = bucketOf(expiresAt);
    if (!target.reindexAll && buckets.has(bucket)) return;
    const names = pending.get(bucket) ?? [];
    pending.set(bucket, names);
    names.push(name);
    if (names.length >= REINDEX_BATCH) await flush(bucket);
  };
  const removed = await eachBounded(listNames(fs, target.dir), (name) =>
    visit(target, name, now, reindex),
  );
  for (const bucket of [...pending.keys()]) await flush(bucket);
  return removed;
}

/** Runs `visit` over `names`, at most CONCURRENCY at a time; resolves how many returned true. */
async function eachBounded(
  names: AsyncIterable<string>,
  visit: (name: string) => Promise<boolean>,
): Promise<number> {
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
  for await (const name of names) {
    while (active >= CONCURRENCY) await slot();
    active++;
    void visit(name).then(settled);
    if (++seen % YIELD_EVERY === 0) await yieldToEventLoop();
  }
  while (active > 0) await slot();
  return removed;
}

async function visit(
  target: SweepTarget,
  name: string,
  now: number,
  reindex: (name: string, expiresAt: number) => Promise<void>,
): Promise<boolean> {
  const file = join(target.dir, name);
  try {
    if (SESSION_FILE.test(name)) {
      if (target.everything) return await target.remove(name, now);
      const stat = await target.fs.lstat(file);
      if (stat.mtimeMs > now) {
        await reindex(name, stat.mtimeMs);
        return false;
      }
      return await target.remove(name, now);
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
      else await reindex(name, stat.mtimeMs);
    } else if (CORRUPT_FILE.test(name)) {
      // rename() sets ctime, so ctime is when the file was moved aside.
      const stat = target.everything ? undefined : await target.fs.lstat(file);
      if (!stat || now - stat.ctimeMs > target.corruptRetentionMs) {
        await removeEntry(target.fs, file);
      }
    }
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') report(target, 'one file', error);
  }
  return false;
}

function report(target: SweepTarget, what: string, error: unknown): void {
  const code = errorCode(error);
  target.onError(
    new Error(`FileStore cleanup failed on ${what} (${code ?? error})`, { cause: error }),
  );
}
