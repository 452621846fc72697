/**
 * Serialization of writes to one session: a per-key promise queue inside the process, and
 * (FileStore `multiProcess: true`) a lock file per session shared between processes.
 *
 * Lock file: `<name>.lock`, created with `O_CREAT|O_EXCL` (`'wx'`, mode 0600), holding
 * `{ pid, host, token, time }`. A waiter retries with a capped exponential backoff. A lock is
 * stale when its process is gone (same host, `kill(pid, 0)` → ESRCH) or it is older than
 * `staleMs` (another host, or a hung process). Breaking a stale lock renames it to a unique
 * scratch name first, so two processes that judged the same lock stale can't both break it, and
 * a lock re-taken in between is put back.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from '../../errors.js';
import { scratchName } from './format.js';
import {
  closeQuietly,
  errorCode,
  type FileStoreFs,
  openRetrying,
  READ_FLAGS,
  readExactly,
  unlinkQuietly,
  writeAll,
} from './fs.js';

/** What a lock file holds. */
interface LockInfo {
  pid: number;
  host: string;
  token: string;
  time: number;
}

export interface LockOptions {
  /** A lock older than this (ms) is stale even if its process may be alive. */
  staleMs: number;
  /** Give up waiting after this long (ms) with `StoreUnavailableError`. */
  timeoutMs: number;
}

const HOST = hostname();

/**
 * Takes the lock `<dir>/<name>.lock`, runs `fn`, releases the lock. Errors creating the lock
 * file (ENOSPC, EROFS, …) are thrown as they are; waiting too long throws StoreUnavailableError.
 */
export async function withFileLock<T>(
  fs: FileStoreFs,
  dir: string,
  name: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const lockPath = join(dir, `${name}.lock`);
  const token = randomBytes(8).toString('hex');
  // Registered before the file exists, so this process never judges its own fresh lock stale.
  heldTokens.add(token);
  try {
    await acquire(fs, dir, lockPath, token, options);
    try {
      return await fn();
    } finally {
      await unlinkQuietly(fs, lockPath);
    }
  } finally {
    heldTokens.delete(token);
  }
}

/** Tokens of the locks this process holds right now. */
const heldTokens = new Set<string>();

async function acquire(
  fs: FileStoreFs,
  dir: string,
  lockPath: string,
  token: string,
  options: LockOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = 1;
  for (;;) {
    const info: LockInfo = { pid: process.pid, host: HOST, token, time: Date.now() };
    let fd: number;
    try {
      fd = await openRetrying(fs, lockPath, 'wx', 0o600);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      fd = -1;
    }
    if (fd >= 0) {
      try {
        await writeAll(fs, fd, Buffer.from(JSON.stringify(info), 'utf8'));
      } catch (error) {
        // An empty lock would hold others off until it is stale: take it back.
        await closeQuietly(fs, fd);
        await unlinkQuietly(fs, lockPath);
        throw error;
      }
      await closeQuietly(fs, fd);
      return;
    }
    if (await breakIfStale(fs, dir, lockPath, options.staleMs)) continue;
    if (Date.now() >= deadline) {
      throw new StoreUnavailableError('timed out waiting for a session lock');
    }
    await sleep(delay * (0.5 + Math.random()));
    delay = Math.min(delay * 2, 32);
  }
}

/** Reads a lock file; `undefined` when it is gone, `null` when unreadable or not yet written. */
async function readLock(fs: FileStoreFs, file: string): Promise<LockInfo | null | undefined> {
  let fd: number | undefined;
  try {
    fd = await fs.open(file, READ_FLAGS);
    const stat = await fs.fstat(fd);
    if (!stat.isFile() || stat.size > 4096) return null;
    const value = JSON.parse((await readExactly(fs, fd, stat.size)).toString('utf8')) as unknown;
    const info = value as Partial<LockInfo> | null;
    if (
      typeof info?.pid === 'number' &&
      typeof info.host === 'string' &&
      typeof info.token === 'string' &&
      typeof info.time === 'number'
    ) {
      return info as LockInfo;
    }
    return null;
  } catch (error) {
    return errorCode(error) === 'ENOENT' ? undefined : null;
  } finally {
    await closeQuietly(fs, fd);
  }
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCode(error) === 'ESRCH';
  }
}

/** True when `info` describes a lock nobody holds any more. */
export function lockIsStale(info: LockInfo, staleMs: number, now = Date.now()): boolean {
  // Ours, but not held any more: its release failed (e.g. the disk was read-only for a moment).
  if (info.host === HOST && info.pid === process.pid) return !heldTokens.has(info.token);
  if (info.host === HOST && processIsGone(info.pid)) return true;
  return now - info.time > staleMs;
}

/**
 * Breaks the lock at `lockPath` when it is stale. Resolves true when the caller should retry
 * at once (lock broken or already gone). Used by writers and by cleanup sweeps.
 */
export async function breakIfStale(
  fs: FileStoreFs,
  dir: string,
  lockPath: string,
  staleMs: number,
): Promise<boolean> {
  const info = await readLock(fs, lockPath);
  if (info === undefined) return true;
  if (info === null) {
    // Unparsable: a holder between create and write, or one killed right there. Judge by age.
    try {
      const stat = await fs.lstat(lockPath);
      if (Date.now() - stat.mtimeMs <= staleMs) return false;
    } catch (error) {
      return errorCode(error) === 'ENOENT';
    }
  } else if (!lockIsStale(info, staleMs)) {
    return false;
  }
  const aside = join(dir, scratchName(lockPath.slice(dir.length + 1)));
  try {
    await fs.rename(lockPath, aside);
  } catch (error) {
    return errorCode(error) === 'ENOENT';
  }
  const moved = await readLock(fs, aside);
  if (moved && moved.token !== info?.token) {
    // Someone broke the stale lock and took a new one before our rename: put theirs back.
    try {
      await fs.link(aside, lockPath);
    } catch {
      // EEXIST: a third process holds it now; theirs stands.
    }
  }
  await unlinkQuietly(fs, aside);
  return true;
}
