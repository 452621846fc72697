/**
 * Reading and writing one session file: the safe open, the atomic write, nothing else.
 *
 * Read: `open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)` → `fstat` (regular file, our uid, within
 * `maxFileSize`) → one `read` → `close`. A symlink, FIFO, socket, directory, foreign-owned or
 * oversized file, or content that does not parse, reads as "corrupt" (never as an exception).
 *
 * Write: an exclusive temp file (`'wx'`, 0600, random name in
 * the same directory) → write → `futimes` (mtime = expiry, the cleanup index) → [`fsync`] →
 * `close` → `rename` over the session file (or `link`, which fails if it exists, for a create)
 * → [`fsync` of the directory]. Readers see the old file or the new one, never a partial one;
 * on any error the temp file is removed and the previous file is untouched.
 *
 * Small rewrite: see `writeSessionFileInPlace`, a single one-page `write` into the existing file.
 */

import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { SessionError, StoreUnavailableError, StoreWriteError } from '../../errors.js';
import type { SessionRecord } from '../../types.js';
import { type CachedFile, cachedRecord, unchanged } from './file-cache.js';
import { type FileCodec, SESSION_FILE, scratchName } from './format.js';
import {
  closeQuietly,
  errorCode,
  type FileStoreFs,
  openRetrying,
  READ_FLAGS,
  READ_WRITE_FLAGS,
  readExactly,
  removeEntry,
  unlinkQuietly,
  writeAll,
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

const MISSING: ReadResult = { state: 'missing' };

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
    fd = await openRetrying(ctx.fs, join(ctx.dir, name), writable ? READ_WRITE_FLAGS : READ_FLAGS);
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

/**
 * Atomically writes `bytes` as the session file `name` with mtime `expiresAt`. With
 * `exclusive`, the file must not exist: resolves false (and writes nothing) when it does.
 * Rejects with the raw fs error; the caller wraps it.
 */
export async function writeSessionFile(
  ctx: FileIoContext,
  name: string,
  bytes: Buffer,
  expiresAt: number,
  exclusive: boolean,
): Promise<boolean> {
  const file = join(ctx.dir, name);
  const temp = join(ctx.dir, scratchName(name));
  let fd: number | undefined;
  let published = false;
  try {
    fd = await openRetrying(ctx.fs, temp, 'wx', 0o600);
    if (ctx.chmodFiles) await ctx.fs.fchmod(fd, 0o600);
    await writeAll(ctx.fs, fd, padded(bytes));
    const seconds = expiresAt / 1000;
    await ctx.fs.futimes(fd, seconds, seconds);
    if (ctx.fsync) await ctx.fs.fsync(fd);
    const closing = fd;
    fd = undefined;
    await ctx.fs.close(closing);
    if (exclusive) {
      published = await linkExclusive(ctx.fs, temp, file);
      if (!published) return false;
    } else {
      await ctx.fs.rename(temp, file);
      published = true;
    }
    if (ctx.fsync) await syncDirectory(ctx.fs, ctx.dir);
    return true;
  } finally {
    await closeQuietly(ctx.fs, fd);
    // After a rename the temp name is gone; after a link (or any failure) it must go.
    if (!published || exclusive) await unlinkQuietly(ctx.fs, temp);
  }
}

/**
 * Small files are padded with trailing spaces (valid JSON whitespace) to a multiple of 256
 * bytes, so the next writes of a session that grows a little still fit in place.
 */
const PAD_TO = 256;
/** One page: the largest file rewritten in place. */
export const IN_PLACE_LIMIT = 4096;

function padded(bytes: Buffer): Buffer {
  if (bytes.length > IN_PLACE_LIMIT) return bytes;
  const size = Math.min(IN_PLACE_LIMIT, Math.ceil(bytes.length / PAD_TO) * PAD_TO);
  return size === bytes.length
    ? bytes
    : Buffer.concat([bytes, Buffer.alloc(size - bytes.length, 0x20)]);
}

/**
 * Rewrites the session file `name` in place: `bytes`, padded with spaces to the file's current
 * `size`, in one `write` at offset 0, then `futimes` (mtime = expiry). Creating and renaming a
 * file costs ~0.1–1 ms of journal work on ext4; this costs a few µs.
 *
 * It is only used where it is as safe as the rename: on Linux, where a write of at most one page
 * to the page cache is one uninterruptible copy (a killed process leaves the old content or the
 * new, never a mix); when the new content fits in the file (`bytes.length <= size <=
 * IN_PLACE_LIMIT`), so no block is allocated and the write can't fail half-way for lack of
 * space; with synchronous file calls and no other process writing (`syncIO`, no `multiProcess`),
 * so no reader of this process runs during the copy; and without `fsync`, since a power loss
 * can tear a page where the rename can't. The caller checks those conditions, and passes the
 * descriptor `readSessionFile(…, true)` opened (so a vanished file is never recreated).
 */
export async function writeSessionFileInPlace(
  ctx: FileIoContext,
  fd: number,
  bytes: Buffer,
  size: number,
  expiresAt: number,
): Promise<void> {
  const content =
    bytes.length === size ? bytes : Buffer.concat([bytes, Buffer.alloc(size - bytes.length, 0x20)]);
  const written = await ctx.fs.write(fd, content, 0, content.length);
  if (written !== content.length) throw new Error('short write');
  const seconds = expiresAt / 1000;
  await ctx.fs.futimes(fd, seconds, seconds);
}

/** `link(temp, file)`: atomic create-if-absent, across processes too. False when it exists. */
async function linkExclusive(fs: FileStoreFs, temp: string, file: string): Promise<boolean> {
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'EEXIST') return false;
    // File systems without hard links: under the caller's lock, a rename onto a free name.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') {
      if ((await fs.lstatIfExists(file)) !== undefined) return false;
      await fs.rename(temp, file);
      return true;
    }
    throw error;
  }
}

/** fsync of the directory, so the rename itself survives a power loss. */
async function syncDirectory(fs: FileStoreFs, dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = await fs.open(dir, 'r');
    await fs.fsync(fd);
  } catch (error) {
    // Platforms that can't open or fsync a directory (Windows) have nothing to sync.
    const code = errorCode(error);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw error;
  } finally {
    await closeQuietly(fs, fd);
  }
}

/** The largest forward file read (it holds one file name). */
const FORWARD_LIMIT = 512;

/**
 * Writes the forward of the session file `name` to the session file `to`, valid until `until`
 * (its mtime), atomically like a session file. Rejects with the raw fs error.
 */
export async function writeForward(
  ctx: FileIoContext,
  name: string,
  to: string,
  until: number,
): Promise<void> {
  await writeSessionFile(ctx, `${name}.moved`, Buffer.from(to), until, false);
}

/**
 * Removes the forward of `name` and resolves the session file it names while it is valid;
 * `undefined` when there is none (or it ran out, or it is not one of ours).
 */
export async function takeForward(ctx: FileIoContext, name: string): Promise<string | undefined> {
  const file = join(ctx.dir, `${name}.moved`);
  let fd: number;
  try {
    fd = await ctx.fs.open(file, READ_FLAGS);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    if (errorCode(error) === 'ELOOP') return undefined;
    throw asWriteError(error);
  }
  let target: string | undefined;
  try {
    const stat = await ctx.fs.fstat(fd);
    const ours = stat.isFile() && (ctx.uid === undefined || stat.uid === ctx.uid);
    if (ours && stat.size <= FORWARD_LIMIT && stat.mtimeMs > Date.now()) {
      const text = (await readExactly(ctx.fs, fd, stat.size)).toString('latin1').trim();
      if (SESSION_FILE.test(text)) target = text;
    }
  } finally {
    await closeQuietly(ctx.fs, fd);
  }
  await removePath(ctx, file);
  return target;
}

/** Deletes the session file `name`; false when it was already gone. Errors → StoreWriteError. */
export async function removeSessionFile(ctx: FileIoContext, name: string): Promise<boolean> {
  return removePath(ctx, join(ctx.dir, name));
}

async function removePath(ctx: FileIoContext, file: string): Promise<boolean> {
  try {
    await ctx.fs.unlink(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw asWriteError(error);
  }
}

/** Quarantine: renames `name` to `<name>.corrupt` (replacing an older one); false when gone. */
export async function moveAside(ctx: FileIoContext, name: string): Promise<boolean> {
  const file = join(ctx.dir, name);
  try {
    await ctx.fs.rename(file, `${file}.corrupt`);
    return true;
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return false;
    // An older quarantined entry of another kind (a directory over a file, a non-empty one)
    // stands in the way: it goes, once, and the rename is tried again.
    if (code !== 'EISDIR' && code !== 'ENOTDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      throw asWriteError(error);
    }
  }
  try {
    await removeEntry(ctx.fs, `${file}.corrupt`);
    await ctx.fs.rename(file, `${file}.corrupt`);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw asWriteError(error);
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
