/**
 * Writing one session file atomically.
 *
 * An exclusive temp file (`'wx'`, 0600, random name in the same directory) → write → `futimes`
 * (mtime = expiry, the cleanup index) → [`fsync`] → `close` → `rename` over the session file (or
 * `link`, which fails if it exists, for a create) → [`fsync` of the directory]. Readers see the
 * old file or the new one, never a partial one; on any error the temp file is removed and the
 * previous file is untouched.
 *
 * Small rewrite: see `writeSessionFileInPlace`, a single one-page `write` into the existing file.
 * Small create: see `createSessionFileInOneStep`, the final name opened exclusively and written
 * once.
 */
import { padded, padTo, scratchName } from './format.js';
import {
  CREATE_FLAGS,
  closeQuietly,
  errorCode,
  type FileStoreFs,
  openRetrying,
  unlinkQuietly,
  writeAll,
} from './fs.js';
import { type FileIoContext, filePath } from './io.js';

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
  const file = filePath(ctx.dir, name);
  const temp = filePath(ctx.dir, scratchName(name));
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
 * Creates the session file `name` in one step: `open(O_CREAT|O_EXCL|O_NOFOLLOW, 0600)` of the
 * final name (the insert-if-absent: false when it exists), one `write` of at most one page,
 * `futimes`, `close`. The temp file + `link` + `unlink` of `writeSessionFile` costs twice the
 * kernel work, and every unlinked temp inode makes the next creates slower on ext4, whose
 * allocator skips recently freed inodes.
 *
 * Used under the same conditions as the in-place rewrite (Linux, synchronous calls, no other
 * process writing, no `fsync`; content of at most one page), where it is as safe: a process
 * killed between the `open` and the `write` leaves a zero-byte file, which reads as "no
 * session" (the create was never acknowledged) and is replaced by the next create or removed
 * by a sweep; a killed `write` of one page leaves all of it or none. Any failure after the
 * `open` removes the file again, so a full disk never leaves a half-created session.
 */
export async function createSessionFileInOneStep(
  ctx: FileIoContext,
  name: string,
  bytes: Buffer,
  expiresAt: number,
): Promise<boolean> {
  const file = filePath(ctx.dir, name);
  let fd: number;
  try {
    fd = await openRetrying(ctx.fs, file, CREATE_FLAGS, 0o600);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  let done = false;
  try {
    if (ctx.chmodFiles) await ctx.fs.fchmod(fd, 0o600);
    await writeOnePage(ctx, fd, padded(bytes), expiresAt);
    const closing = fd;
    fd = -1;
    await ctx.fs.close(closing);
    done = true;
    return true;
  } finally {
    if (fd >= 0) await closeQuietly(ctx.fs, fd);
    if (!done) await unlinkQuietly(ctx.fs, file);
  }
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
  await writeOnePage(ctx, fd, padTo(bytes, size), expiresAt);
}

/**
 * The single `write` at offset 0 (of at most one page) of the one-step create and the in-place
 * rewrite, then `futimes` (mtime = expiry).
 */
async function writeOnePage(
  ctx: FileIoContext,
  fd: number,
  content: Buffer,
  expiresAt: number,
): Promise<void> {
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
