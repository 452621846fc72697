/** FileStore options: their documentation, defaults and validation. */
import { resolve } from 'node:path';
import { InvalidOptionError } from '../../errors.js';
import type { BackgroundErrorHandler } from '../../types.js';
import { defaultFs, type FileStoreFs, syncFs } from './fs.js';

export interface FileStoreOptions {
  /**
   * The directory holding one file per session. Created on first use with mode 0700.
   * Type: `string`. Default: `'./sessions'`, resolved against `process.cwd()` at construction
   * (so a later `chdir` does not move the store).
   */
  path?: string;
  /**
   * Upper bound, in seconds, on a session's lifetime since its last write: the store clamps
   * every `expiresAt` it is given to `now + ttl * 1000`, so no file outlives it even if a caller
   * asks for more. Type: `number` (seconds, > 0). Default: `86400` (one day); the
   * SessionManager passes its own `maxAge / 1000`.
   */
  ttl?: number;
  /**
   * Milliseconds between cleanup sweeps once `startCleanup()` is called. A sweep lists the
   * directory and `lstat`s each file (expiry is kept in the mtime); it opens only expired files.
   * Type: `number` (ms). Default: `600000` (10 minutes).
   */
  cleanupInterval?: number;
  /**
   * Durability. `false`: crash-safe — writes go to a temp file that is renamed over the session
   * file, so a killed process never leaves a partial file (the page cache survives the process).
   * `true`: power-loss-safe as well — the temp file is fsynced before the rename and the
   * directory after it; costs one or two disk flushes per write. Type: `boolean`.
   * Default: `false`.
   */
  fsync?: boolean;
  /**
   * Encrypts files at rest with AES-256-GCM (random IV per write, the file name as associated
   * data). Keys for content and for file names are derived with HKDF-SHA256 from this secret;
   * file names become HMAC-SHA256(id) so an id does not locate its file. Use 32+ random bytes
   * (e.g. `crypto.randomBytes(32).toString('base64')`) kept out of the code; changing it makes
   * every stored session unreadable (they read as absent and are moved aside).
   * Type: `string | Buffer` of at least 32 bytes. Default: none (plain JSON files).
   */
  encryptionKey?: string | Uint8Array;
  /**
   * Set when several processes (Node cluster, PM2) share the directory: every write to a
   * session then also takes a lock file (`<name>.lock`, `O_EXCL`), so key-level writes from
   * different processes all land and a destroy in one process is never undone by another.
   * Without it files are still never corrupt (unique temp names + rename), but two processes
   * writing one session at the same moment can lose one of the updates.
   * Cost: a lock file is created, written and removed per write (reads take no lock).
   * Measured with `node --import tsx test/fixtures/file-bench-multiprocess.ts` on a busy 2-core
   * Linux VM: on ext4 (where creating a file costs ~1 ms) sequential updates went from 1.9 to
   * 2.9 ms (1.5x) and 32 concurrent ones from ~2,000/s to ~1,000/s; on tmpfs from 278 to 330 µs
   * (1.2x) and from ~9,000/s to ~5,300/s.
   * Type: `boolean`. Default: `false`.
   */
  multiProcess?: boolean;
  /**
   * Largest session file read, in bytes; a bigger file is treated as corrupt (refused before it
   * is read). Type: `number`. Default: `4194304` (4 MiB).
   */
  maxFileSize?: number;
  /**
   * Receives errors of background work (cleanup sweeps) and notices of files moved aside as
   * corrupt. Must not throw. Type: `(error: Error) => void`. Default: `process.emitWarning`.
   */
  onError?: BackgroundErrorHandler;
  /**
   * Do the per-request file calls (open, read, write, rename, close) synchronously. Each is one
   * small syscall on a local file, and going through libuv's thread pool costs more than the
   * call itself: measured on a 2-core Linux VM, a `get` + `update` went from ~1.4 ms to ~0.3 ms
   * of CPU. The event loop is blocked for those microseconds instead. Creating, linking and
   * renaming files (journal work), `fsync`, cleanup and listing stay asynchronous. Turn it off for a network file system (NFS, SMB), where one call
   * can take milliseconds. Type: `boolean`. Default: `true`.
   */
  syncIO?: boolean;
  /**
   * @internal For tests: the `fs/promises` functions the store calls (see `FileStoreFs`).
   * Default: `node:fs/promises`.
   */
  fs?: FileStoreFs;
}

export interface ResolvedFileStoreOptions {
  path: string;
  ttl: number;
  cleanupInterval: number;
  fsync: boolean;
  encryptionKey: string | Uint8Array | undefined;
  multiProcess: boolean;
  maxFileSize: number;
  onError: BackgroundErrorHandler | undefined;
  syncIO: boolean;
  fs: FileStoreFs;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function show(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function fail(option: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(`${option} must be ${expected} (got ${show(value)})`);
}

/** Validates FileStore options and fills in defaults. Throws InvalidOptionError. */
export function resolveFileStoreOptions(options: FileStoreOptions = {}): ResolvedFileStoreOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'an object', options);
  const {
    path = './sessions',
    ttl = 86_400,
    cleanupInterval = 600_000,
    fsync = false,
    encryptionKey,
    multiProcess = false,
    maxFileSize = 4 * 1024 * 1024,
    onError,
    syncIO = true,
  } = options;
  if (typeof syncIO !== 'boolean') fail('syncIO', 'a boolean', syncIO);
  const fs = options.fs ?? (syncIO ? syncFs : defaultFs);
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    fail('path', 'a non-empty directory path', path);
  }
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    fail('ttl', 'a positive number of seconds', ttl);
  }
  if (
    typeof cleanupInterval !== 'number' ||
    !Number.isInteger(cleanupInterval) ||
    cleanupInterval < 1 ||
    cleanupInterval > MAX_TIMER_MS
  ) {
    fail(
      'cleanupInterval',
      `an integer number of milliseconds from 1 to ${MAX_TIMER_MS}`,
      cleanupInterval,
    );
  }
  if (typeof fsync !== 'boolean') fail('fsync', 'a boolean', fsync);
  if (typeof multiProcess !== 'boolean') fail('multiProcess', 'a boolean', multiProcess);
  if (encryptionKey !== undefined) {
    const bytes =
      typeof encryptionKey === 'string'
        ? Buffer.byteLength(encryptionKey, 'utf8')
        : encryptionKey instanceof Uint8Array
          ? encryptionKey.byteLength
          : -1;
    if (bytes < 32) {
      // Never echo the key itself.
      const got = bytes < 0 ? show(encryptionKey) : `${bytes} bytes`;
      throw new InvalidOptionError(
        `encryptionKey must be a string or Buffer of at least 32 bytes, e.g. crypto.randomBytes(32) (got ${got})`,
      );
    }
  }
  if (
    typeof maxFileSize !== 'number' ||
    !Number.isInteger(maxFileSize) ||
    maxFileSize < 1 ||
    maxFileSize > 2 ** 31 - 1
  ) {
    fail('maxFileSize', 'a positive integer number of bytes below 2 GiB', maxFileSize);
  }
  if (onError !== undefined && typeof onError !== 'function')
    fail('onError', 'a function', onError);
  if (typeof fs !== 'object' || fs === null) fail('fs', 'an object of fs/promises functions', fs);
  return {
    path: resolve(path),
    ttl,
    cleanupInterval,
    fsync,
    encryptionKey,
    multiProcess,
    maxFileSize,
    onError,
    syncIO,
    fs,
  };
}
