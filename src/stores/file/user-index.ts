/**
 * FileStore's user index: per user a directory `users/<h>/` (h = the store's file-name hash of
 * the user id, keyed with `encryptionKey`, so nothing on disk names a user) holding one empty
 * marker file per session, named like the session's own file; and the user's epoch in
 * `users/<h>.epoch`. The session file is the truth: a marker is a candidate, verified by reading
 * the session (its binding must name the user) and unlinked when it no longer leads to one, so
 * expired and destroyed sessions leave the index the next time it is read, without a sweep.
 *
 * Steps that read or change one user's index (a login, a listing, a revocation, an epoch raise)
 * run one at a time per user: in the process, and with `multiProcess` across processes through
 * a lock file `users/<h>.lock` (the session files keep their own locks, always taken inside).
 *
 * Every load of a bound session reads its user's epoch. Without `multiProcess` this process is
 * the only writer of the directory (that option's contract), so only its own raises change an
 * epoch file: epochs are served from memory, read from the file once and replaced by each raise
 * as it lands. With `multiProcess` another process may raise one at any time, so each load reads
 * the file, with the request path's file calls (synchronous under `syncIO`). Validating a
 * remembered epoch by the file's `lstat` instead would save little more (measured ~5 µs of CPU
 * for the three synchronous calls, ~3 µs for an `lstat`) and could be fooled: a raise replaces
 * the file, and a new file can reuse the old inode with the same size and, where timestamps are
 * coarse, the same times.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setBounded } from '../../bounded-map.js';
import { boundUserOf } from '../../data.js';
import { KeyedQueue } from '../../keyed-queue.js';
import type { CreateForUserResult, SessionRecord, UserSessionLimit } from '../../types.js';
import type { FileCodec } from './format.js';
import {
  closeQuietly,
  errorCode,
  type FileStoreFs,
  listNames,
  readExactly,
  unlinkQuietly,
  writeAll,
} from './fs.js';
import { asWriteError, type FileIoContext, readSessionFile } from './io.js';
import { type LockOptions, withFileLock } from './lock.js';

/** What the index needs from its FileStore. */
export interface FileIndexContext {
  readonly fs: FileStoreFs;
  readonly io: FileIoContext;
  readonly codec: FileCodec;
  /** The file calls on a request's path (synchronous under `syncIO`), for the epoch read. */
  readonly requestFs: FileStoreFs;
  /** The session directory. */
  readonly path: string;
  readonly multiProcess: boolean;
  readonly lock: LockOptions;
  /** The directory is ready (created and checked). */
  prepare(): Promise<void>;
  create(id: string, record: SessionRecord): Promise<boolean>;
  destroy(id: string): Promise<void>;
}

/** An epoch file is a decimal number of a few bytes; anything larger is not one. */
const MAX_EPOCH_BYTES = 32;
/** Users whose epoch is remembered; the oldest makes room (a forgotten one is read once again). */
const EPOCHS_KEPT = 4096;

export class FileUserIndex {
  readonly #ctx: FileIndexContext;
  readonly #root: string;
  readonly #queue = new KeyedQueue();
  /** Epochs by user id, without `multiProcess` only (see above). */
  readonly #epochs: Map<string, number> | undefined;

  constructor(context: FileIndexContext) {
    this.#ctx = context;
    this.#root = join(context.path, 'users');
    this.#epochs = context.multiProcess ? undefined : new Map();
  }

  async create(
    id: string,
    record: SessionRecord,
    userId: string,
    limit?: UserSessionLimit,
  ): Promise<CreateForUserResult> {
    const ctx = this.#ctx;
    const user = this.#hash(userId);
    const marker = join(this.#root, user, ctx.codec.fileName(id));
    return this.#alone(user, async () => {
      let evicted = 0;
      if (limit) {
        const live = await this.#live(userId, user);
        if (live.length >= limit.max) {
          if (limit.whenFull === 'reject') return { status: 'full' };
          live.sort((a, b) => a[1].expiresAt - b[1].expiresAt || a[1].createdAt - b[1].createdAt);
          for (const [victim] of live.slice(0, live.length - limit.max + 1)) {
            await ctx.destroy(victim);
            await unlinkQuietly(ctx.fs, join(this.#root, user, ctx.codec.fileName(victim)));
            evicted++;
          }
        }
      }
      // The marker first: a crash in between leaves a marker without a session (pruned when
      // read), never a session its user's listing can't see.
      await this.#mark(marker);
      if (!(await ctx.create(id, record))) {
        await unlinkQuietly(ctx.fs, marker);
        return { status: 'collision' };
      }
      return { status: 'created', evicted };
    });
  }

  async list(userId: string): Promise<[string, SessionRecord][]> {
    // Alone for the user too: a login writes its marker before its session, and a listing in
    // between must not take that marker for a stale one and unlink it.
    const user = this.#hash(userId);
    return this.#alone(user, () => this.#live(userId, user));
  }

  async destroy(userId: string, exceptId?: string): Promise<number> {
    const user = this.#hash(userId);
    return this.#alone(user, async () => {
      let count = 0;
      for (const [id] of await this.#live(userId, user)) {
        if (id === exceptId) continue;
        await this.#ctx.destroy(id);
        await unlinkQuietly(this.#ctx.fs, join(this.#root, user, this.#ctx.codec.fileName(id)));
        count++;
      }
      return count;
    });
  }

  /**
   * The user's epoch when this process holds it (without `multiProcess`, where every raise goes
   * through this index and updates it), else `undefined`: a `get` then attaches it to the record.
   */
  knownEpoch(userId: string): number | undefined {
    return this.#epochs?.get(userId);
  }

  async epoch(userId: string): Promise<number> {
    const epochs = this.#epochs;
    const known = epochs?.get(userId);
    if (known !== undefined) return known;
    const user = this.#hash(userId);
    if (epochs === undefined) return this.#readEpoch(user);
    // In the user's queue, so a raise of this user lands wholly before this read or after it
    // (and replaces what this read remembers).
    return this.#queue.run(user, async () => {
      const epoch = epochs.get(userId) ?? (await this.#readEpoch(user));
      this.#remember(epochs, userId, epoch);
      return epoch;
    });
  }

  async raiseEpoch(userId: string, atLeast: number): Promise<number> {
    const user = this.#hash(userId);
    return this.#alone(user, async () => {
      const epochs = this.#epochs;
      const current = epochs?.get(userId) ?? (await this.#readEpoch(user));
      const epoch = Math.max(current, Math.floor(atLeast));
      const file = this.#epochFile(user);
      const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      const fs = this.#ctx.fs;
      try {
        await fs.mkdir(this.#root, { recursive: true, mode: 0o700 });
        const fd = await fs.open(temp, 'wx', 0o600);
        try {
          await writeAll(fs, fd, Buffer.from(String(epoch)));
          if (this.#ctx.io.fsync) await fs.fsync(fd);
        } finally {
          await closeQuietly(fs, fd);
        }
        await fs.rename(temp, file);
      } catch (error) {
        // Whether the rename happened is not known: the file decides on the next read.
        epochs?.delete(userId);
        await unlinkQuietly(fs, temp);
        throw asWriteError(error);
      }
      if (epochs) this.#remember(epochs, userId, epoch);
      return epoch;
    });
  }

  async #readEpoch(user: string): Promise<number> {
    const fs = this.#ctx.requestFs;
    let fd: number;
    try {
      fd = await fs.open(this.#epochFile(user), 'r');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 0;
      throw asWriteError(error);
    }
    try {
      const text = (await readExactly(fs, fd, MAX_EPOCH_BYTES)).toString('utf8');
      return /^\d{1,16}$/.test(text) ? Number(text) : 0;
    } finally {
      await closeQuietly(fs, fd);
    }
  }

  #remember(epochs: Map<string, number>, userId: string, epoch: number): void {
    setBounded(epochs, userId, epoch, EPOCHS_KEPT);
  }

  /** The user's live sessions; markers that lead to none are unlinked on the way. */
  async #live(userId: string, user: string): Promise<[string, SessionRecord][]> {
    const ctx = this.#ctx;
    await ctx.prepare();
    const dir = join(this.#root, user);
    const names: string[] = [];
    for await (const name of listNames(ctx.fs, dir)) names.push(name);
    const now = Date.now();
    const results = await Promise.all(names.map((name) => readSessionFile(ctx.io, name)));
    const live: [string, SessionRecord][] = [];
    for (const [i, result] of results.entries()) {
      if (
        result.state === 'ok' &&
        result.record.expiresAt > now &&
        boundUserOf(result.record.data) === userId
      ) {
        live.push([result.id, result.record]);
      } else if (result.state !== 'corrupt') {
        await unlinkQuietly(ctx.fs, join(dir, names[i]!));
      }
    }
    return live;
  }

  async #mark(marker: string): Promise<void> {
    const fs = this.#ctx.fs;
    try {
      await fs.mkdir(join(marker, '..'), { recursive: true, mode: 0o700 });
      await closeQuietly(fs, await fs.open(marker, 'w', 0o600));
    } catch (error) {
      throw asWriteError(error);
    }
  }

  /** Runs `fn` alone for this user: in-process queue, plus a lock file with multiProcess. */
  async #alone<T>(user: string, fn: () => Promise<T>): Promise<T> {
    const ctx = this.#ctx;
    await ctx.prepare();
    if (!ctx.multiProcess) return this.#queue.run(user, fn);
    await ctx.fs.mkdir(this.#root, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw asWriteError(error);
    });
    return this.#queue.run(user, () =>
      withFileLock(ctx.fs, this.#root, user, ctx.lock, fn).catch((error: unknown) => {
        throw asWriteError(error);
      }),
    );
  }

  #epochFile(user: string): string {
    return join(this.#root, `${user}.epoch`);
  }

  #hash(userId: string): string {
    return this.#ctx.codec.fileName(`user\0${userId}`).replace(/\.json$/, '');
  }
}
