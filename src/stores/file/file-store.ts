/**
 * FileStore: one file per session, persistent across restarts.
 *
 * - File names are `sha256(id)` hex + `.json` (HMAC-SHA256 with `encryptionKey`): the
 *   directory never shows an id, and ids are validated before any file-system call.
 * - Directory 0700, files 0600 whatever the umask; symlinks are never followed.
 * - Writes are atomic (temp file + rename, see `write.ts`) and serialized per session inside
 *   the process (and across processes with `multiProcess`); `update` re-reads the file under
 *   that lock and changes only the named keys. `update`/`touch` never recreate a missing session.
 * - Expiry lives in the content (`expiresAt`, checked on every read) and in the file's mtime,
 *   which lets cleanup find expired files without reading the others; and the expiry index
 *   (`expiry/`, see `expiry-index.ts`) lists per hour the files that can expire in it, so a
 *   regular sweep touches only those. A name is appended there before its file is written with
 *   an expiry in another hour than before; full scans (`fullSweepInterval`) catch the rest.
 * - Quarantine: a file that is not a valid session (bad JSON or schema, failed decryption,
 *   oversized, symlink, FIFO, foreign owner…) reads as absent, is renamed to `<name>.corrupt`
 *   under the session's lock and reported through `onError`; cleanup deletes quarantined files
 *   7 days later, `clear()` at once.
 *
 * Longer than ~300 lines because it is one class: the contract methods, the user-index tier and
 * the read-modify-write under the per-session lock all share the private state (queue, codec,
 * directory readiness, the cache of files seen recently). Each mechanism beneath lives in its
 * own file: format, io (read), write, entries (remove, quarantine, forwards), file-cache, fs,
 * lock, directory, expiry-index, cleanup, user-index, options.
 */
import { join } from 'node:path';
import { boundUserOf, pickKeys } from '../../data.js';
import {
  InvalidSessionDataError,
  reportBackgroundError,
  SessionTooLargeError,
  StoreClosedError,
  StoreWriteError,
} from '../../errors.js';
import { assertValidSessionId } from '../../id.js';
import { KeyedQueue } from '../../keyed-queue.js';
import type {
  BackgroundErrorHandler,
  CreateForUserResult,
  MoveResult,
  SessionChanges,
  SessionMove,
  SessionRecord,
  SessionStore,
  UserIndexStore,
  UserSessionLimit,
} from '../../types.js';
import { sweep, sweepIndex } from './cleanup.js';
import { directoryStillThere, prepareDirectory } from './directory.js';
import { moveAside, removeSessionFile, takeForward, writeForward } from './entries.js';
import { bucketOf, ExpiryIndex } from './expiry-index.js';
import { cachedRecord, FileCache, unchanged } from './file-cache.js';
import { FileCodec, IN_PLACE_LIMIT, isTime, SESSION_FILE } from './format.js';
import { closeQuietly, defaultFs, errorCode, type FileStoreFs, listNames } from './fs.js';
import { asWriteError, type FileIoContext, filePath, readSessionFile } from './io.js';
import { type LockOptions, withFileLock } from './lock.js';
import { type FileStoreOptions, resolveFileStoreOptions } from './options.js';
import { FileUserIndex } from './user-index.js';
import { createSessionFileInOneStep, writeSessionFile, writeSessionFileInPlace } from './write.js';

export type { FileStoreOptions } from './options.js';

/** Leftover temp files younger than this are a write in flight, not a leftover. */
const TEMP_GRACE_MS = 60_000;
/** How long a quarantined `*.corrupt` file is kept for inspection. */
const CORRUPT_RETENTION_MS = 7 * 24 * 3_600_000;
/**
 * `multiProcess` locks: stale after 30 s, or at once when the holder's pid is gone on this
 * host; a writer waits at most 10 s (then StoreUnavailableError).
 */
const LOCK: LockOptions = { staleMs: 30_000, timeoutMs: 10_000 };
const MISSING: MoveResult = Object.freeze({ status: 'missing' });
const COLLISION: MoveResult = Object.freeze({ status: 'collision' });
/** Session files read in parallel by `all()`. */
const READ_AHEAD = 32;

export class FileStore implements SessionStore, UserIndexStore {
  /** Absolute path of the session directory. */
  readonly path: string;
  /** Upper bound on a session's lifetime since its last write, in seconds. */
  readonly ttl: number;
  readonly cleanupInterval: number;
  /** Longest time (ms) between two full scans of the directory by cleanup. */
  readonly fullSweepInterval: number;
  readonly fsync: boolean;
  readonly multiProcess: boolean;
  readonly maxFileSize: number;
  readonly #onError: BackgroundErrorHandler | undefined;
  readonly #fs: FileStoreFs;
  readonly #codec: FileCodec;
  readonly #io: FileIoContext;
  /**
   * The same, with asynchronous fs calls whatever `syncIO` says, for bulk work: sweeps (thousands
   * of files; 128 synchronous unlinks in a row would block the event loop for milliseconds),
   * regenerate's forwards and the user index.
   */
  readonly #bulkIo: FileIoContext;
  readonly #queue = new KeyedQueue();
  /** Small rewrites go in place (see writeSessionFileInPlace for when that is as safe). */
  readonly #inPlace: boolean;
  #dirReady = false;
  /** Device and inode of the directory as checked, to notice it being swapped at runtime. */
  #dirIdentity: { dev: number; ino: number } | undefined;
  #preparing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #sweeping: Promise<number> | undefined;
  /** The next sweep is a full scan whatever the index says (the first one of startCleanup). */
  #fullScanNext = false;
  readonly #index: ExpiryIndex;
  readonly #users: FileUserIndex;
  /** Recently seen session files, validated by their stat (single process, local files only). */
  readonly #cache: FileCache | undefined;

  constructor(options: FileStoreOptions = {}) {
    const resolved = resolveFileStoreOptions(options);
    this.path = resolved.path;
    this.ttl = resolved.ttl;
    this.cleanupInterval = resolved.cleanupInterval;
    this.fullSweepInterval = resolved.fullSweepInterval;
    this.fsync = resolved.fsync;
    this.multiProcess = resolved.multiProcess;
    this.maxFileSize = resolved.maxFileSize;
    this.#onError = resolved.onError;
    this.#fs = resolved.fs;
    this.#codec = new FileCodec(resolved.encryptionKey);
    this.#inPlace =
      process.platform === 'linux' &&
      resolved.syncIO &&
      options.fs === undefined &&
      !resolved.multiProcess &&
      !resolved.fsync;
    this.#cache =
      resolved.syncIO && options.fs === undefined && !resolved.multiProcess
        ? new FileCache()
        : undefined;
    this.#io = {
      fs: this.#fs,
      dir: this.path,
      codec: this.#codec,
      maxFileSize: this.maxFileSize,
      uid: process.getuid?.(),
      fsync: this.fsync,
      chmodFiles: false,
    };
    this.#bulkIo = { ...this.#io, fs: options.fs ?? defaultFs };
    this.#index = new ExpiryIndex(this.#io.fs, this.path, this.#io.uid);
    this.#users = new FileUserIndex({
      fs: this.#bulkIo.fs,
      io: this.#bulkIo,
      requestFs: this.#fs,
      codec: this.#codec,
      path: this.path,
      multiProcess: this.multiProcess,
      lock: LOCK,
      prepare: async () => {
        if (!this.#dirReady) await this.#prepare();
      },
      create: (id, record) => this.create(id, record),
      destroy: (id) => this.destroy(id),
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    assertValidSessionId(id);
    this.#assertOpen();
    const name = this.#codec.fileName(id);
    if (!this.#dirReady) await this.#prepare();
    const cache = this.#cache;
    const known = cache?.get(name);
    if (known !== undefined) {
      // One lstat instead of open/fstat/read/close; any error leaves it to the full read.
      const stat = await this.#io.fs.lstatIfExists(filePath(this.path, name)).catch(() => null);
      if (stat === undefined) {
        cache?.delete(name);
        return undefined;
      }
      if (stat !== null && unchanged(known, stat)) {
        return known.expiresAt > Date.now() ? this.#withEpoch(cachedRecord(known)) : undefined;
      }
      cache?.delete(name);
    }
    const writes = cache?.writes;
    const result = await readSessionFile(this.#io, name);
    if (result.state === 'ok') {
      if (cache?.writes === writes) cache?.set(name, result.stat, result.id, result.record);
      return result.record.expiresAt > Date.now() ? this.#withEpoch(result.record) : undefined;
    }
    if (result.state === 'corrupt') await this.#quarantine(name);
    return undefined;
  }

  /** A bound record carries its user's epoch when this process holds it (see `knownEpoch`). */
  #withEpoch(record: SessionRecord): SessionRecord {
    const user = boundUserOf(record.data);
    if (user !== undefined) {
      const epoch = this.#users.knownEpoch(user);
      if (epoch !== undefined) record.userEpoch = epoch;
    }
    return record;
  }

  async create(id: string, record: SessionRecord): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    const name = this.#codec.fileName(id);
    const expiresAt = this.#clamp(record.expiresAt);
    checkTime(record.createdAt);
    // Serializing now is the copy: later changes to `record` by the caller don't leak in.
    const bytes = this.#fitting(this.#codec.serialize(id, { ...record, expiresAt }, name));
    if (!this.#dirReady) await this.#prepare();
    return this.#exclusive(name, () => this.#insert(name, bytes, expiresAt));
  }

  /**
   * Moves a session under the old session's lock (and, with `multiProcess`, its lock file): a
   * concurrent `update` or `destroy` of the old session runs wholly before (and is carried over,
   * or wins) or wholly after (and finds it gone, or follows the forward to the new one).
   */
  async move(oldId: string, newId: string, move: SessionMove): Promise<MoveResult> {
    assertValidSessionId(oldId);
    assertValidSessionId(newId);
    const oldName = this.#codec.fileName(oldId);
    const newName = this.#codec.fileName(newId);
    const expiresAt = this.#clamp(move.expiresAt);
    checkTime(move.createdAt);
    checkTime(move.forwardUntil);
    if (!this.#dirReady) await this.#prepare();
    return this.#exclusive(oldName, async () => {
      const current = await readSessionFile(this.#io, oldName);
      if (current.state === 'corrupt') await this.#moveAside(oldName, current.reason);
      if (current.state !== 'ok' || current.record.expiresAt <= Date.now()) return MISSING;
      const data = pickKeys(current.record.data, move.keep);
      if (move.into === 'existing') {
        const added = await this.#rewrite(newId, expiresAt, (target) =>
          Object.assign(target, data),
        );
        if (!added) return MISSING;
      } else {
        const record = { data, createdAt: move.createdAt, expiresAt };
        const bytes = this.#fitting(this.#codec.serialize(newId, record, newName));
        const created = await this.#exclusive(newName, () =>
          this.#insert(newName, bytes, expiresAt),
        );
        if (!created) return COLLISION;
      }
      try {
        // The forward first: a crash before the old file goes leaves both, still linked.
        await this.#indexAdd(`${oldName}.moved`, move.forwardUntil);
        await writeForward(this.#bulkIo, oldName, newName, move.forwardUntil);
        this.#cache?.delete(oldName);
        await removeSessionFile(this.#bulkIo, oldName);
      } catch (error) {
        if (move.into !== 'existing')
          await removeSessionFile(this.#bulkIo, newName).catch(() => {});
        throw asWriteError(error);
      }
      return { status: 'moved', data };
    });
  }

  /** Under the lock of `name`: writes a new session unless a live one is there. */
  async #insert(name: string, bytes: Buffer, expiresAt: number): Promise<boolean> {
    await this.#recheckDirectory();
    // Indexed before it is written: the index always lists every file that can expire.
    await this.#indexAdd(name, expiresAt);
    // The name is almost always free: the exclusive create (open O_EXCL, or link) is the
    // insert-if-absent, so try it before reading.
    if (await this.#write(name, bytes, expiresAt, true)) return true;
    const current = await readSessionFile(this.#io, name);
    if (current.state === 'ok' && current.record.expiresAt > Date.now()) return false;
    if (current.state === 'corrupt') await this.#moveAside(name, current.reason);
    // An expired session or an empty file (a create cut short) is written over.
    const replace = current.state === 'ok' || current.state === 'empty';
    return this.#write(name, bytes, expiresAt, !replace);
  }

  async update(id: string, changes: SessionChanges, expiresAt: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    // Snapshot of the keys now; the values are serialized when the write runs under the lock.
    const set = changes.set ? Object.entries(changes.set) : [];
    const unset = changes.unset ? [...changes.unset] : [];
    return this.#rewrite(id, expiresAt, (data) => {
      for (const [key, value] of set) data[key] = value;
      for (const key of unset) delete data[key];
    });
  }

  async touch(id: string, expiresAt: number, minExtension?: number): Promise<boolean> {
    assertValidSessionId(id);
    this.#assertOpen();
    return this.#rewrite(id, expiresAt, () => {}, minExtension);
  }

  async destroy(id: string): Promise<void> {
    assertValidSessionId(id);
    this.#assertOpen();
    const name = this.#codec.fileName(id);
    if (!this.#dirReady) await this.#prepare();
    await this.#destroyFile(name);
  }

  /** Removes the session file `name` and, while its forward lasts, the session it moved to. */
  async #destroyFile(name: string): Promise<void> {
    await this.#exclusive(name, async () => {
      this.#cache?.delete(name);
      await removeSessionFile(this.#io, name);
      const movedTo = await takeForward(this.#io, name);
      if (movedTo !== undefined) await this.#destroyFile(movedTo);
    });
  }

  async *all(): AsyncGenerator<[string, SessionRecord]> {
    this.#assertOpen();
    let pending: string[] = [];
    const drain = async () => {
      const names = pending;
      pending = [];
      return Promise.all(names.map((name) => this.#readOrQuarantine(name)));
    };
    for await (const name of listNames(this.#fs, this.path)) {
      if (!SESSION_FILE.test(name)) continue;
      pending.push(name);
      if (pending.length < READ_AHEAD) continue;
      for (const entry of await drain()) if (entry) yield entry;
    }
    for (const entry of await drain()) if (entry) yield entry;
  }

  async length(): Promise<number> {
    this.#assertOpen();
    let count = 0;
    for await (const name of listNames(this.#fs, this.path)) if (SESSION_FILE.test(name)) count++;
    return count;
  }

  async createForUser(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    assertValidSessionId(id);
    this.#assertOpen();
    return this.#users.create(id, record, userId, limit);
  }

  async listUser(userId: string): Promise<[string, SessionRecord][]> {
    this.#assertOpen();
    return this.#users.list(userId);
  }

  async destroyUser(userId: string, exceptId?: string): Promise<number> {
    this.#assertOpen();
    return this.#users.destroy(userId, exceptId);
  }

  async userEpoch(userId: string): Promise<number> {
    this.#assertOpen();
    return this.#users.epoch(userId);
  }

  async raiseUserEpoch(userId: string, atLeast: number): Promise<number> {
    this.#assertOpen();
    return this.#users.raiseEpoch(userId, atLeast);
  }

  /** Removes every session file, quarantined file and stale leftover; other files stay. */
  async clear(): Promise<void> {
    this.#assertOpen();
    const errors: Error[] = [];
    await this.#sweep(true, (error) => errors.push(error));
    if (errors.length > 0) {
      throw new StoreWriteError(`clear() could not remove ${errors.length} file(s)`, {
        cause: errors[0],
      });
    }
  }

  /**
   * Stops the cleanup timer and waits for a sweep in flight; later calls reject with
   * `StoreClosedError`. The files stay: the next store on the directory reads them. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.stopCleanup();
    await this.#sweeping;
  }

  /**
   * Sweeps now, with a full scan (so leftovers of a crash, and files the index lost, go at
   * startup), and then every `cleanupInterval` ms. The timer does not keep the process alive.
   * Idempotent.
   */
  startCleanup(): void {
    if (this.#timer) return;
    this.#fullScanNext = true;
    void this.cleanup();
    this.#timer = setInterval(() => void this.cleanup(), this.cleanupInterval);
    this.#timer.unref();
  }

  stopCleanup(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * One sweep now: removes the expired sessions the expiry index lists for the hours that have
   * passed. When a full scan is due (the index is new, or the last one is older than
   * `fullSweepInterval`), it also lists the whole directory: expired sessions the index missed,
   * temp files older than a minute, stale locks, forwards that ran out and quarantined files
   * older than 7 days. Resolves the number of sessions removed; never rejects (errors go to
   * `onError`). Concurrent calls share the sweep in flight.
   */
  cleanup(): Promise<number> {
    this.#sweeping ??= this.#sweep(false, (error) => reportBackgroundError(this.#onError, error))
      .catch((error: unknown) => {
        reportBackgroundError(this.#onError, error);
        return 0;
      })
      .finally(() => {
        this.#sweeping = undefined;
      });
    return this.#sweeping;
  }

  /**
   * Creates the directory (mode 0700, parents too) if needed and checks it: a symlink, a
   * non-directory or a directory owned by another uid is refused with InvalidOptionError; an
   * existing directory with other permissions is chmod-ed to 0700 (see `file-directory.ts`).
   * Operations call it once, lazily, and again when the directory vanished.
   */
  async ensureDirectory(): Promise<void> {
    this.#dirIdentity = await prepareDirectory(this.#fs, this.path, this.#io.uid);
    await this.#index.prepare(this.#fs);
    const chmodFiles = this.#io.uid !== undefined && (process.umask() & 0o600) !== 0;
    // Both contexts: new session files are written through the bulk one.
    this.#io.chmodFiles = chmodFiles;
    this.#bulkIo.chmodFiles = chmodFiles;
    this.#dirReady = true;
  }

  /** Absolute path of the file of `sessionId`. Throws InvalidSessionIdError for an invalid id. */
  _getFilePath(sessionId: string): string {
    assertValidSessionId(sessionId);
    return join(this.path, this.#codec.fileName(sessionId));
  }

  /**
   * Before a new session file is created (one lstat, next to the cost of creating a file): the
   * directory must still be the one checked. One swapped for a symlink or another
   * directory is checked again — refused when it is a symlink — so a write never follows it.
   */
  async #recheckDirectory(): Promise<void> {
    try {
      const stat = await this.#io.fs.lstatIfExists(this.path);
      const known = this.#dirIdentity;
      if (stat?.isDirectory() && stat.dev === known?.dev && stat.ino === known.ino) return;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw asWriteError(error);
    }
    this.#dirReady = false;
    await this.#prepare();
  }

  async #prepare(): Promise<void> {
    this.#preparing ??= this.ensureDirectory().finally(() => {
      this.#preparing = undefined;
    });
    await this.#preparing;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #clamp(expiresAt: number): number {
    checkTime(expiresAt);
    return Math.min(expiresAt, Date.now() + this.ttl * 1000);
  }

  /**
   * Appends `name` to the expiry index; recreates an index directory deleted under the store
   * once. Rejects with StoreWriteError.
   */
  async #indexAdd(name: string, expiresAt: number): Promise<void> {
    try {
      await this.#index.add(name, expiresAt);
    } catch (error) {
      if (errorCode((error as Error).cause) !== 'ENOENT') throw error;
      try {
        await this.#index.prepare(this.#fs);
      } catch (again) {
        throw asWriteError(again);
      }
      await this.#index.add(name, expiresAt);
    }
  }

  /** Runs `fn` alone for this session: in-process queue, plus the lock file with multiProcess. */
  #exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.#cache) this.#cache.writes++;
    if (!this.multiProcess) return this.#queue.run(name, fn);
    return this.#queue.run(name, () =>
      // A lock file that can't be created (ENOSPC, EROFS, …) is a failed write.
      withFileLock(this.#fs, this.path, name, LOCK, fn).catch((error: unknown) => {
        throw asWriteError(error);
      }),
    );
  }

  /**
   * Read-modify-write of a live session; false (nothing written) when it is missing or expired.
   * With `minExtension`, a live session whose expiry would move by less is left as it is.
   */
  async #rewrite(
    id: string,
    expiresAt: number,
    change: (data: SessionRecord['data']) => void,
    minExtension?: number,
  ) {
    const name = this.#codec.fileName(id);
    const clamped = this.#clamp(expiresAt);
    if (!this.#dirReady) await this.#prepare();
    return this.#exclusive(name, async () => {
      const cache = this.#cache;
      const current = await readSessionFile(this.#io, name, this.#inPlace, cache?.get(name));
      if (current.state === 'corrupt') await this.#moveAside(name, current.reason);
      if (current.state !== 'ok') return false;
      try {
        if (current.record.expiresAt <= Date.now()) return false;
        if (minExtension !== undefined && clamped - current.record.expiresAt < minExtension) {
          return true;
        }
        const { data, createdAt } = current.record;
        change(data);
        // A renewal within the same hour (almost every one) leaves the index as it is.
        if (bucketOf(clamped) !== bucketOf(current.record.expiresAt)) {
          await this.#indexAdd(name, clamped);
        }
        const record = { data, createdAt, expiresAt: clamped };
        const dataJson = JSON.stringify(data);
        const bytes = this.#fitting(this.#codec.serialize(id, record, name, dataJson));
        // In place only into a private file the new content fits; else through a new 0600 file.
        const { fd, size } = current;
        if (fd !== undefined && current.private && bytes.length <= size && size <= IN_PLACE_LIMIT) {
          cache?.delete(name);
          try {
            await writeSessionFileInPlace(this.#io, fd, bytes, size, clamped);
            cache?.set(name, await this.#io.fs.fstat(fd), id, record, dataJson);
            return true;
          } catch (error) {
            throw asWriteError(error);
          }
        }
        return await this.#write(name, bytes, clamped, false);
      } finally {
        if (current.fd !== undefined) await closeQuietly(this.#fs, current.fd);
      }
    });
  }

  /**
   * Refuses content over `maxFileSize` before anything is written: such a file would read back
   * as corrupt, so acknowledging it would lose the session.
   */
  #fitting(bytes: Buffer): Buffer {
    if (bytes.length > this.maxFileSize) {
      throw new SessionTooLargeError(
        `the session would take ${bytes.length} bytes on disk, over the FileStore's maxFileSize (${this.maxFileSize})`,
      );
    }
    return bytes;
  }

  /**
   * Writes a new file under the caller's lock; recreates a vanished directory once; wraps fs
   * errors. Through the per-request calls (synchronous under `syncIO`): creating a file costs
   * the kernel the same either way, and on the thread pool several creates in one directory
   * contend for its lock and each call pays a thread hop (measured: ~30 % more CPU per create).
   */
  async #write(name: string, bytes: Buffer, expiresAt: number, exclusive: boolean) {
    this.#cache?.delete(name);
    try {
      const write =
        exclusive && this.#inPlace && bytes.length <= IN_PLACE_LIMIT
          ? () => createSessionFileInOneStep(this.#io, name, bytes, expiresAt)
          : () => writeSessionFile(this.#io, name, bytes, expiresAt, exclusive);
      try {
        return await write();
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw error;
        this.#dirReady = false;
        await this.#prepare();
        return await write();
      }
    } catch (error) {
      throw asWriteError(error);
    }
  }

  async #readOrQuarantine(name: string): Promise<[string, SessionRecord] | undefined> {
    const result = await readSessionFile(this.#io, name);
    if (result.state === 'corrupt') await this.#quarantine(name);
    if (result.state !== 'ok' || result.record.expiresAt <= Date.now()) return undefined;
    return [result.id, result.record];
  }

  /** Re-checks under the lock that `name` is still invalid, then moves it aside. Never throws. */
  async #quarantine(name: string): Promise<void> {
    try {
      await this.#exclusive(name, async () => {
        const again = await readSessionFile(this.#io, name);
        if (again.state === 'corrupt') await this.#moveAside(name, again.reason);
      });
    } catch (error) {
      reportBackgroundError(this.#onError, error);
    }
  }

  /** Under the lock: moves an invalid file aside and reports it. */
  async #moveAside(name: string, reason: string): Promise<void> {
    this.#cache?.delete(name);
    if (!(await moveAside(this.#io, name))) return;
    const message = `FileStore moved an invalid session file aside to ${name}.corrupt (${reason})`;
    reportBackgroundError(this.#onError, new Error(message));
  }

  async #sweep(everything: boolean, onError: (error: Error) => void): Promise<number> {
    // A directory deleted or swapped for a symlink at runtime must be noticed even when no
    // write hits ENOENT: the next operation re-validates it.
    let present: boolean;
    try {
      present = await directoryStillThere(this.#fs, this.path, this.#io.uid);
    } catch (error) {
      this.#dirReady = false;
      throw error;
    }
    if (!present) {
      this.#dirReady = false;
      return 0;
    }
    if (!this.#dirReady) await this.#prepare();
    const fs = this.#bulkIo.fs;
    const target = {
      fs,
      dir: this.path,
      index: this.#index,
      everything,
      reindexAll: false,
      tempGraceMs: TEMP_GRACE_MS,
      lockStaleMs: LOCK.staleMs,
      corruptRetentionMs: CORRUPT_RETENTION_MS,
      onError,
      remove: (name: string, now: number) =>
        this.#exclusive(name, async () => {
          this.#cache?.delete(name);
          if (everything) return removeSessionFile(this.#bulkIo, name);
          const current = await readSessionFile(this.#bulkIo, name);
          if (current.state === 'corrupt') await this.#moveAside(name, current.reason);
          // A create cut short by a crash (see ReadResult): it never held a session.
          if (current.state === 'empty') return removeSessionFile(this.#bulkIo, name);
          if (current.state !== 'ok') return false;
          const { expiresAt } = current.record;
          if (expiresAt <= now) return removeSessionFile(this.#bulkIo, name);
          // Touched after the listing, or an mtime out of step (a restored backup): repair it
          // so the next sweep does not open this file again, and index it by its expiry.
          await this.#indexAdd(name, expiresAt);
          await fs.lutimes(join(this.path, name), expiresAt / 1000, expiresAt / 1000);
          return false;
        }),
    };
    if (everything) return sweep(target);
    const started = Date.now();
    const last = await this.#index.lastFullScan(fs);
    const full =
      this.#fullScanNext || last === undefined || started - last >= this.fullSweepInterval;
    let removed = await sweepIndex(target);
    if (!full) return removed;
    this.#fullScanNext = false;
    // A new (or lost) index: every live file it sees is indexed.
    removed += await sweep({ ...target, reindexAll: last === undefined });
    await this.#index.markFullScan(fs, started).catch(onError);
    return removed;
  }
}

function checkTime(time: number): void {
  if (!isTime(time)) {
    throw new InvalidSessionDataError('session times must be finite, non-negative numbers of ms');
  }
}
