/**
 * Reading one session file: the safe open, nothing else; plus the context every file call of
 * the store shares and how a failed write is reported (`asWriteError`).
 *
 * `open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)` → `fstat` (regular file, our uid, within
 * `maxFileSize`) → one `read` → `close`. A symlink, FIFO, socket, directory, foreign-owned or
 * oversized file, or content that does not parse, reads as "corrupt" (never as an exception).
 * Writing is in `write.ts`; removal, quarantine and forwards in `entries.ts`.
 */
import type { Stats } from 'node:fs';
import { sep } from 'node:path';
import { SessionError, StoreUnavailableError, StoreWriteError } from '../../errors.js';
import type { SessionRecord } from '../../types.js';
import { type CachedFile, cachedRecord, unchanged } from './file-cache.js';
import { type FileCodec, IN_PLACE_LIMIT } from './format.js';
import {
  closeQuietly,
  errorCode,
  type FileStoreFs,
  openRetrying,
  READ_FLAGS,
  READ_WRITE_FLAGS,
  readExactly,
} from './fs.js';

export interface FileIoContext {
  fs: FileStoreFs;
  dir: string;
  codec: FileCodec;
  maxFileSize: number;
  /** Our uid (POSIX); files owned by anyone else are refused. */
  uid: number | undefined;
  fsync: boolean;
  /** True when the umask would strip owner bits from 0600, so files need an explicit fchmod. */
  chmodFiles: boolean;
}

export type ReadResult =
  | { state: 'missing' }
  /**
   * A session file of zero bytes: a one-step create (see `createSessionFileInOneStep`) that
   * a crash cut off between its `open` and its single `write`. It was never acknowledged, so it
   * reads as absent; it is not quarantined, and the next create or sweep under its lock replaces
   * or removes it.
   */
  | { state: 'empty' }
  | { state: 'corrupt'; reason: string }
  | {
      state: 'ok';
      id: string;
      record: SessionRecord;
      size: number;
      /** Only the owner can read or write it (mode 0600 or tighter). */
      private: boolean;
      /** With `writable`: the open read-write descriptor; the caller closes it. */
      fd: number | undefined;
      /** The file's `fstat` before it was read. */
      stat: Stats;
    };

/**
 * `join(dir, name)` for a resolved directory and a plain file name, without normalizing the
 * path again (a few µs on every request's file calls).
 */
export function filePath(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

const MISSING: ReadResult = { state: 'missing' };
const EMPTY: ReadResult = { state: 'empty' };

/** Error codes of `open` that mean "something other than a regular file sits here". */
const NOT_A_FILE = new Set(['ELOOP', 'EISDIR', 'ENXIO', 'EMLINK', 'EFTYPE']);

function corrupt(reason: string): ReadResult {
  return { state: 'corrupt', reason };
}

function readError(error: unknown): StoreUnavailableError {
  return new StoreUnavailableError(
    `could not read a session file (${errorCode(error) ?? String(error)})`,
    { cause: error },
  );
}

/**
 * Reads the session file `name`. Rejects only with StoreUnavailableError (EIO, EACCES, …).
 * With `writable`, the file is opened read-write and, when it is valid, its descriptor is handed
 * back as `fd` for an in-place rewrite (one open instead of two); the caller must close it.
 * With `known` (a cache entry of `name`), a file its `fstat` shows unchanged is not read.
 */
export async function readSessionFile(
  ctx: FileIoContext,
  name: string,
  writable = false,
  known?: CachedFile,
): Promise<ReadResult> {
  let fd: number;
  try {
    fd = await openRetrying(
      ctx.fs,
      filePath(ctx.dir, name),
      writable ? READ_WRITE_FLAGS : READ_FLAGS,
    );
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return MISSING;
    if (code !== undefined && NOT_A_FILE.has(code)) return corrupt('not a regular file');
    // A file we may read but not write: read it; the caller then writes through a new file.
    if (writable && (code === 'EACCES' || code === 'EROFS')) return readSessionFile(ctx, name);
    throw readError(error);
  }
  let handOver = false;
  try {
    const stat = await ctx.fs.fstat(fd);
    if (!stat.isFile()) return corrupt('not a regular file');
    if (ctx.uid !== undefined && stat.uid !== ctx.uid) return corrupt('owned by another user');
    if (stat.size > ctx.maxFileSize) return corrupt('larger than maxFileSize');
    if (stat.size === 0) return EMPTY;
    if (known !== undefined && unchanged(known, stat)) {
      handOver = writable;
      const { id, private: only } = known;
      const record = cachedRecord(known);
      return {
        state: 'ok',
        id,
        record,
        size: stat.size,
        private: only,
        fd: handOver ? fd : undefined,
        stat,
      };
    }
    let parsed = ctx.codec.parse(await readExactly(ctx.fs, fd, stat.size), name);
    // An in-place write (see writeSessionFileInPlace) is a single one-page copy, but a reader in
    // another process can catch it halfway; such a read is retried once, never quarantined.
    if (typeof parsed === 'string' && stat.size <= IN_PLACE_LIMIT) {
      parsed = ctx.codec.parse(await readExactly(ctx.fs, fd, stat.size), name);
    }
    if (typeof parsed === 'string') return corrupt(parsed);
    handOver = writable;
    return {
      state: 'ok',
      ...parsed,
      size: stat.size,
      private: (stat.mode & 0o077) === 0,
      fd: writable ? fd : undefined,
      stat,
    };
  } catch (error) {
    throw readError(error);
  } finally {
    if (!handOver) await closeQuietly(ctx.fs, fd);
  }
}

/** A failed write as StoreWriteError: the fs error code in the message (never a path or id). */
export function asWriteError(error: unknown): SessionError {
  if (error instanceof SessionError) return error;
  return new StoreWriteError(
    `could not write a session file (${errorCode(error) ?? String(error)})`,
    { cause: error },
  );
}
