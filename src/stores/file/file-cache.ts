/**
 * Session files this process read or wrote recently, each remembered with the `stat` it had
 * then, so a `get` is one `lstat` instead of open/fstat/read/close and parse, and an `update`
 * replaces its read with the `fstat` of the descriptor it opens anyway.
 *
 * An entry is used only while the file still has the same device, inode, size, mtime and ctime.
 * Every change to a file's content or metadata moves its ctime, and on Linux 6.13 and later
 * (ext4, xfs, btrfs, tmpfs) a ctime that has been looked at moves by at least a nanosecond on the
 * next change. On a file system with coarse timestamps, two writes within one clock tick
 * can leave the same stat, so the cache relies on this process seeing every write: the FileStore
 * uses it only without `multiProcess`, only with `syncIO` (a local file system), and replaces or
 * drops an entry under the session's lock whenever it writes the file itself. A file replaced or
 * removed from outside (a restore, a planted file, `rm`) changes the inode or vanishes.
 */
import type { Stats } from 'node:fs';
import { setBounded } from '../../bounded-map.js';
import type { JsonValue, SessionRecord } from '../../types.js';

/** Entries kept; each holds a file of at most ENTRY_LIMIT bytes, so the cache stays under ~8 MB. */
const CAPACITY = 2048;
/** Larger session files are not cached (they are rare, and re-reading them is a small part). */
const ENTRY_LIMIT = 4096;

export interface CachedFile {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** Only the owner could read or write it (mode 0600 or tighter) when it was seen. */
  readonly private: boolean;
  readonly id: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The session data as JSON: each use parses its own copy, so no caller shares objects. */
  readonly data: string;
}

export class FileCache {
  readonly #entries = new Map<string, CachedFile>();
  /**
   * Counts the writes under a session's lock. A reader without the lock remembers what it read
   * only when no write began meanwhile, so it never puts back a file's older content.
   */
  writes = 0;

  get(name: string): CachedFile | undefined {
    return this.#entries.get(name);
  }

  /**
   * Remembers `name` as `stat` shows it, holding `record` (the oldest entry makes room);
   * `dataJson` is `JSON.stringify(record.data)` when the caller already made it.
   */
  set(
    name: string,
    stat: Stats,
    id: string,
    record: SessionRecord,
    dataJson: string = JSON.stringify(record.data),
  ): void {
    if (stat.size > ENTRY_LIMIT) {
      this.#entries.delete(name);
      return;
    }
    setBounded(
      this.#entries,
      name,
      {
        dev: stat.dev,
        ino: stat.ino,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        ctimeMs: stat.ctimeMs,
        private: (stat.mode & 0o077) === 0,
        id,
        createdAt: record.createdAt,
        expiresAt: record.expiresAt,
        data: dataJson,
      },
      CAPACITY,
    );
  }

  delete(name: string): void {
    this.#entries.delete(name);
  }
}

/** True when `stat` shows the same regular file, unchanged since `entry` was taken. */
export function unchanged(entry: CachedFile, stat: Stats): boolean {
  return (
    stat.isFile() &&
    stat.ino === entry.ino &&
    stat.dev === entry.dev &&
    stat.size === entry.size &&
    stat.mtimeMs === entry.mtimeMs &&
    stat.ctimeMs === entry.ctimeMs
  );
}

/** A fresh copy of the cached session (data with a null prototype, as a parsed file has). */
export function cachedRecord(entry: CachedFile): SessionRecord {
  const data = Object.assign(Object.create(null), JSON.parse(entry.data)) as Record<
    string,
    JsonValue
  >;
  return { data, createdAt: entry.createdAt, expiresAt: entry.expiresAt };
}
