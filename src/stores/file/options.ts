/** FileStore options: their documentation, defaults and validation. */
import { resolve } from 'node:path';
import type { BackgroundErrorHandler } from '../../types.js';
import {
  boolean,
  describeValue,
  intervalMs,
  lifetimeSeconds,
  optionalFunction,
  optionsObject,
  positiveInteger,
  refuse,
} from '../../validate.js';
import { defaultFs, type FileStoreFs, syncFs } from './fs.js';

export interface FileStoreOptions {
  /**
   * The directory holding one file per session. Created on first use with mode 0700.
   * Resolved against `process.cwd()` at construction (so a later `chdir` does not move the
   * store).
   * @default './sessions'
   */
  path?: string;
  /**
   * Upper bound, in seconds, on a session's lifetime since its last write: the store clamps
   * every `expiresAt` it is given to `now + ttl * 1000`, so no file outlives it even if a caller
   * asks for more. Seconds, above 0, at most ten years. A store built by the SessionManager gets
   * the manager's `maxAge / 1000`.
   * @default 86400 (one day)
   */
  ttl?: number;
  /**
   * Milliseconds between cleanup sweeps once `startCleanup()` is called. A sweep reads the
   * expiry index's files of the hours that have passed and `lstat`s the files they name (expiry
   * is kept in the mtime); it opens only expired files (see `fullSweepInterval` for full scans).
   * An integer number of ms from 1 to 2^31 - 1.
   * @default 600000 (10 minutes)
   */
  cleanupInterval?: number;
  /**
   * Longest time (ms) between two full scans of the directory. A regular sweep reads only the
   * expiry index (files due in the hours that have passed), so its cost follows the expired
   * sessions, not all of them; a full scan lists and `lstat`s every file. It finds what the
   * index does not know (files written by an older version of the store, restored from a backup,
   * or whose index line was lost in a crash) and does the rest of the housekeeping: temp files
   * of a killed process, stale locks, forwards that ran out, quarantined files past 7 days. One
   * runs when the index is new, at `startCleanup()`, and then when the last one (by any process
   * on the directory) is older than this. An integer number of ms from 1 to 2^31 - 1.
   * @default 86400000 (one day)
   */
  fullSweepInterval?: number;
  /**
   * Durability. `false`: crash-safe — writes go to a temp file that is renamed over the session
   * file, so a killed process never leaves a partial file (the page cache survives the process).
   * `true`: power-loss-safe as well — the temp file is fsynced before the rename and the
   * directory after it; costs one or two disk flushes per write.
   * @default false
   */
  fsync?: boolean;
  /**
   * Encrypts files at rest with AES-256-GCM (random IV per write, the file name as associated
   * data). Keys for content and for file names are derived with HKDF-SHA256 from this secret;
   * file names become HMAC-SHA256(id) so an id does not locate its file. Use 32+ random bytes
   * (e.g. `crypto.randomBytes(32).toString('base64')`) kept out of the code; changing it makes
   * every stored session unreadable (they read as absent and are moved aside).
   * At least 32 bytes.
   * @default undefined (plain JSON files)
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
   * @default false
   */
  multiProcess?: boolean;
  /**
   * Largest session file read, in bytes; a bigger file is treated as corrupt (refused by its
   * size, before it is read). Reads on a request's path are synchronous, so this also bounds how
   * long one planted or runaway file can hold the event loop: parsing 1 MiB of JSON takes tens of
   * milliseconds, 4 MiB over a hundred. An integer from 1 to 2^31 - 1.
   * @default 1048576 (1 MiB)
   */
  maxFileSize?: number;
  /**
   * Receives errors of background work (cleanup sweeps) and notices of files moved aside as
   * corrupt. Must not throw.
   * @default process.emitWarning
   */
  onError?: BackgroundErrorHandler;
  /**
   * Do the per-request file calls (open, read, write, rename, close) synchronously. Each is one
   * small syscall on a local file, and going through libuv's thread pool costs more than the
   * call itself: measured on a 2-core Linux VM, a `get` + `update` went from ~1.4 ms to ~0.3 ms
   * of CPU. The event loop is blocked for those microseconds instead. Creating a session file
   * is synchronous too (on the thread pool it cost ~30 % more CPU); `fsync`, cleanup, listing
   * and regenerate's moves stay asynchronous. Without `multiProcess`, it also lets the store
   * serve a file it saw recently after one `lstat` (see `file-cache.ts`). Turn it off for a
   * network file system (NFS, SMB), where one call can take milliseconds.
   * @default true
   */
  syncIO?: boolean;
  /**
   * @internal For tests: the `fs/promises` functions the store calls (see `FileStoreFs`).
   * @default the `node:fs` functions (synchronous ones under `syncIO`)
   */
  fs?: FileStoreFs;
}

export interface ResolvedFileStoreOptions {
  path: string;
  ttl: number;
  cleanupInterval: number;
  fullSweepInterval: number;
  fsync: boolean;
  encryptionKey: string | Uint8Array | undefined;
  multiProcess: boolean;
  maxFileSize: number;
  onError: BackgroundErrorHandler | undefined;
  syncIO: boolean;
  fs: FileStoreFs;
}

/** The defaults of {@link FileStoreOptions}: the one place each is written. */
export const FILE_STORE_DEFAULTS = {
  path: './sessions',
  ttl: 86_400,
  cleanupInterval: 600_000,
  fullSweepInterval: 86_400_000,
  fsync: false,
  multiProcess: false,
  maxFileSize: 1_048_576,
  syncIO: true,
} as const;

/** Node's `read` of one file is bounded by 2^31 - 1 bytes. */
const MAX_FILE_SIZE = 2 ** 31 - 1;

/** Validates FileStore options and fills in defaults. Throws InvalidOptionError. */
export function resolveFileStoreOptions(
  options: FileStoreOptions | undefined,
): ResolvedFileStoreOptions {
  const o = optionsObject('FileStore options', options);
  const d = FILE_STORE_DEFAULTS;
  const syncIO = boolean('syncIO', o.syncIO, d.syncIO);
  const path = o.path ?? d.path;
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    refuse('path', 'a non-empty directory path', path);
  }
  const fs = o.fs ?? (syncIO ? syncFs : defaultFs);
  if (typeof fs !== 'object' || fs === null) refuse('fs', 'an object of fs/promises functions', fs);
  return {
    path: resolve(path),
    ttl: lifetimeSeconds('ttl', o.ttl, d.ttl),
    cleanupInterval: intervalMs('cleanupInterval', o.cleanupInterval, d.cleanupInterval, 1),
    fullSweepInterval: intervalMs('fullSweepInterval', o.fullSweepInterval, d.fullSweepInterval, 1),
    fsync: boolean('fsync', o.fsync, d.fsync),
    encryptionKey: checkEncryptionKey(o.encryptionKey),
    multiProcess: boolean('multiProcess', o.multiProcess, d.multiProcess),
    maxFileSize: positiveInteger(
      'maxFileSize',
      o.maxFileSize,
      d.maxFileSize,
      MAX_FILE_SIZE,
      'bytes',
    ),
    onError: optionalFunction<BackgroundErrorHandler>('onError', o.onError),
    syncIO,
    fs,
  };
}

function checkEncryptionKey(key: unknown): string | Uint8Array | undefined {
  if (key === undefined) return undefined;
  const bytes =
    typeof key === 'string'
      ? Buffer.byteLength(key, 'utf8')
      : key instanceof Uint8Array
        ? key.byteLength
        : -1;
  if (bytes < 32) {
    // Never echo the key itself: only its size or kind.
    const shown = bytes < 0 ? describeValue(key) : `${bytes} bytes`;
    refuse(
      'encryptionKey',
      'a string or Buffer of at least 32 bytes, e.g. crypto.randomBytes(32)',
      key,
      shown,
    );
  }
  return key as string | Uint8Array;
}
