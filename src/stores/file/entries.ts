/**
 * Whole session files besides reading and writing them: removal, quarantine (moving an invalid
 * file aside) and the forward a regenerated session leaves behind.
 */
import { join } from 'node:path';
import { SESSION_FILE } from './format.js';
import { closeQuietly, errorCode, READ_FLAGS, readExactly, removeEntry } from './fs.js';
import { asWriteError, type FileIoContext } from './io.js';
import { writeSessionFile } from './write.js';

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
