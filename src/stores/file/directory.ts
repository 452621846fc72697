/**
 * The FileStore directory: created with mode 0700, and refused when it is a symlink, not a
 * directory, or owned by another user (PHP's session module checks the owner the same way).
 * An existing directory with other permission bits is chmod-ed to 0700 rather than refused —
 * session files are credentials, and an operator who created the directory with a default
 * umask (0755) should get a working, private store — with a process warning when it was
 * group- or world-accessible.
 */
import { emitLibraryWarning, InvalidOptionError, StoreUnavailableError } from '../../errors.js';
import { errorCode, type FileStoreFs } from './fs.js';

/** Creates (if needed) and checks the directory `path`; resolves its device and inode. */
export async function prepareDirectory(
  fs: FileStoreFs,
  path: string,
  uid: number | undefined,
): Promise<{ dev: number; ino: number }> {
  const fail = (what: string, error: unknown) =>
    new StoreUnavailableError(
      `could not ${what} the FileStore directory ${path} (${errorCode(error) ?? error})`,
      { cause: error },
    );
  try {
    await fs.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw fail('create', error);
  }
  let stat: Awaited<ReturnType<FileStoreFs['lstat']>>;
  try {
    stat = await fs.lstat(path);
  } catch (error) {
    throw fail('inspect', error);
  }
  const where = JSON.stringify(path);
  if (stat.isSymbolicLink()) {
    throw new InvalidOptionError(
      `path must be a real directory, not a symbolic link, got ${where}`,
    );
  }
  if (!stat.isDirectory()) throw new InvalidOptionError(`path must be a directory, got ${where}`);
  if (uid !== undefined && stat.uid !== uid) {
    throw new InvalidOptionError(
      `path must be a directory owned by this process's user, uid ${uid}, got ${where}, owned by uid ${stat.uid}`,
    );
  }
  const identity = { dev: stat.dev, ino: stat.ino };
  if ((stat.mode & 0o777) === 0o700) return identity;
  try {
    await fs.chmod(path, 0o700);
  } catch (error) {
    throw fail('chmod', error);
  }
  if (stat.mode & 0o077) {
    emitLibraryWarning(
      `FileStore directory ${where} was accessible to other users; its mode is now 0700`,
      'SESSION_STORE_DIRECTORY_MODE',
    );
  }
  return identity;
}

/**
 * Cheap re-check before a sweep: false when the directory is gone; re-validates (and so
 * throws InvalidOptionError) when something else, such as a symlink, now stands at `path`.
 */
export async function directoryStillThere(
  fs: FileStoreFs,
  path: string,
  uid: number | undefined,
): Promise<boolean> {
  try {
    if ((await fs.lstat(path)).isDirectory()) return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  await prepareDirectory(fs, path, uid);
  return true;
}
