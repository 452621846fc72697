/**
 * The FileStore's expiry index, so that a cleanup sweep costs O(expired), not O(files).
 *
 * Layout: `<dir>/expiry/` (mode 0700, checked like the session directory: no symlink, ours)
 * holds one append-only file per hour of expiry times, named by the hour's start in ms since the
 * epoch (`expiry/1764597600000`); each line is the name of a session file (`<64 hex>.json`) or of
 * a forward (`<64 hex>.json.moved`) whose expiry (its mtime) falls in that hour. And
 * `expiry/full-scan`, an empty file whose mtime is when the last full scan of the directory
 * started: until one has completed the index is not known to cover every file.
 *
 * Writes: a name is appended to the bucket of its new expiry BEFORE the file is written, and only
 * when the expiry moves into another bucket than the one it was in (every create; a rewrite whose
 * new expiry crosses an hour): so a bucket's lines are a superset of the files that can expire in
 * it, and a crash in between leaves a line whose file is not there (dropped by the sweep). An
 * append is `open(O_APPEND)`, one `write` of one line (atomic across processes), `close`: about
 * 5 µs, next to the 100 µs and more of creating the session file. A descriptor kept open would
 * save ~3.5 µs of that but goes stale when a bucket file is removed or the index deleted (its
 * appends then land in a file no sweep reads), and holds the file system busy (no read-only
 * remount) while the store lives.
 *
 * Not indexed: files written by an older version of the store, restored from a backup, or whose
 * line was lost (the index deleted, a power loss without `fsync` of the index, a bucket file
 * removed by a sweep in the instant an already-expired name was appended to it). The full scan
 * (see cleanup.ts) finds those; it runs when the index is new, at `startCleanup()`, and then at
 * most every `fullSweepInterval`.
 */
import { constants, type Stats } from 'node:fs';
import { join } from 'node:path';
import { prepareDirectory } from './directory.js';
import { FORWARD_FILE, SESSION_FILE } from './format.js';
import {
  closeQuietly,
  errorCode,
  type FileStoreFs,
  openRetrying,
  READ_FLAGS,
  unlinkQuietly,
} from './fs.js';
import { asWriteError, filePath } from './io.js';

/** Width of one bucket (ms): a session is removed at most this long after it expired (+ sweep). */
export const BUCKET_MS = 3_600_000;
/** A bucket file: the decimal start (ms) of its hour. */
export const BUCKET_FILE = /^\d{1,16}$/;
/** The file whose mtime is the start of the last completed full scan. */
export const FULL_SCAN_FILE = 'full-scan';
/** The index directory inside the session directory. */
export const EXPIRY_DIR = 'expiry';
/** Bytes read from a bucket file at a time (a sweep never holds more of it). */
const CHUNK = 65_536;
/** A line: the longest name (a forward) and its newline. */
const MAX_LINE = 64 + '.json.moved'.length + 1;

const APPEND_FLAGS =
  constants.O_WRONLY |
  constants.O_APPEND |
  constants.O_CREAT |
  (constants.O_NOFOLLOW ?? 0) |
  (constants.O_NONBLOCK ?? 0);
const TRUNCATE_FLAGS =
  constants.O_WRONLY |
  constants.O_TRUNC |
  (constants.O_NOFOLLOW ?? 0) |
  (constants.O_NONBLOCK ?? 0);
const MARK_FLAGS =
  constants.O_WRONLY |
  constants.O_CREAT |
  (constants.O_NOFOLLOW ?? 0) |
  (constants.O_NONBLOCK ?? 0);

/** The start (ms) of the bucket holding `time`. */
export function bucketOf(time: number): number {
  return Math.floor(time / BUCKET_MS) * BUCKET_MS;
}

export class ExpiryIndex {
  /** The index directory. */
  readonly path: string;
  readonly #fs: FileStoreFs;
  readonly #uid: number | undefined;

  /** `fs`: the per-request calls (an append is on a create's path). */
  constructor(fs: FileStoreFs, dir: string, uid: number | undefined) {
    this.#fs = fs;
    this.path = join(dir, EXPIRY_DIR);
    this.#uid = uid;
  }

  /** Creates (0700) and checks the index directory. */
  async prepare(bulk: FileStoreFs): Promise<void> {
    await prepareDirectory(bulk, this.path, this.#uid);
  }

  /**
   * Appends `name` to the bucket of `expiresAt`, before that file is written with that expiry.
   * Rejects with StoreWriteError.
   */
  async add(name: string, expiresAt: number): Promise<void> {
    try {
      await this.#append(this.#fs, bucketOf(expiresAt), Buffer.from(`${name}\n`, 'latin1'));
    } catch (error) {
      throw asWriteError(error);
    }
  }

  /**
   * Appends many lines to the bucket `bucket` in one `write` (a full scan re-indexing files),
   * through the bulk calls.
   */
  async addMany(bulk: FileStoreFs, bucket: number, names: string[]): Promise<void> {
    await this.#append(bulk, bucket, Buffer.from(`${names.join('\n')}\n`, 'latin1'));
  }

  /** Empties every bucket file (truncated, not removed: other processes keep appending to it). */
  async empty(bulk: FileStoreFs, names: Iterable<string>): Promise<void> {
    for (const name of names) {
      if (!BUCKET_FILE.test(name)) continue;
      const fd = await bulk.open(join(this.path, name), TRUNCATE_FLAGS).catch((error: unknown) => {
        if (errorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
      await closeQuietly(bulk, fd);
    }
  }

  /** When the last full scan started, or undefined when none completed (the index is new). */
  async lastFullScan(bulk: FileStoreFs): Promise<number | undefined> {
    const stat = await bulk.lstatIfExists(join(this.path, FULL_SCAN_FILE));
    return stat?.isFile() ? stat.mtimeMs : undefined;
  }

  /** Records that a full scan which started at `started` is complete. */
  async markFullScan(bulk: FileStoreFs, started: number): Promise<void> {
    const fd = await bulk.open(join(this.path, FULL_SCAN_FILE), MARK_FLAGS, 0o600);
    try {
      await bulk.futimes(fd, started / 1000, started / 1000);
    } finally {
      await closeQuietly(bulk, fd);
    }
  }

  /**
   * The names in bucket file `name`, streamed in chunks (never the whole file in memory).
   * `bad` counts lines that are not a session file's or a forward's name: skipped.
   */
  async *names(bulk: FileStoreFs, name: string, bad: { lines: number }): AsyncGenerator<string> {
    const file = join(this.path, name);
    const fd = await bulk.open(file, READ_FLAGS);
    try {
      const stat = await bulk.fstat(fd);
      this.#assertOwnFile(stat);
      const buffer = Buffer.allocUnsafe(CHUNK);
      let position = 0;
      let rest = '';
      for (;;) {
        const read = await bulk.read(fd, buffer, 0, CHUNK, position);
        if (read === 0) break;
        position += read;
        const lines = (rest + buffer.toString('latin1', 0, read)).split('\n');
        rest = lines.pop() as string;
        // A line can't be longer than a name: anything longer is not ours, and is not kept.
        if (rest.length > MAX_LINE) {
          bad.lines++;
          rest = '';
        }
        for (const line of lines) {
          if (SESSION_FILE.test(line) || FORWARD_FILE.test(line)) yield line;
          else if (line !== '') bad.lines++;
        }
      }
      if (rest !== '') bad.lines++;
    } finally {
      await closeQuietly(bulk, fd);
    }
  }

  /** Removes the bucket file `name` (swept); already gone is fine. */
  async remove(bulk: FileStoreFs, name: string): Promise<void> {
    await unlinkQuietly(bulk, join(this.path, name));
  }

  /** One `write` of whole lines to the bucket file, opened for it and closed after. */
  async #append(fs: FileStoreFs, bucket: number, lines: Buffer): Promise<void> {
    const fd = await this.#openBucket(fs, bucket);
    try {
      const written = await fs.write(fd, lines, 0, lines.length);
      if (written !== lines.length) throw new Error('short write');
    } finally {
      await closeQuietly(fs, fd);
    }
  }

  /** A bucket file must be a regular file of ours (EFTYPE otherwise: the sweep removes it). */
  #assertOwnFile(stat: Stats): void {
    if (!stat.isFile() || (this.#uid !== undefined && stat.uid !== this.#uid)) {
      throw Object.assign(new Error('not a regular file of ours'), { code: 'EFTYPE' });
    }
  }

  async #openBucket(fs: FileStoreFs, bucket: number): Promise<number> {
    const fd = await openRetrying(fs, filePath(this.path, String(bucket)), APPEND_FLAGS, 0o600);
    try {
      const stat = await fs.fstat(fd);
      this.#assertOwnFile(stat);
      // Created under a umask that took owner bits, or loosened by hand: back to 0600.
      if ((stat.mode & 0o777) !== 0o600) await fs.fchmod(fd, 0o600);
      return fd;
    } catch (error) {
      await closeQuietly(fs, fd);
      throw error;
    }
  }
}
