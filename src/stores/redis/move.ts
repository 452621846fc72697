/**
 * RedisStore's `move` (the step of a `regenerate`), in one-key steps so it works on Redis Cluster.
 */
import { isCarried } from '../../data.js';
import { assertValidSessionId } from '../../id.js';
import type { MoveResult, SessionMove } from '../../types.js';
import { asText, checkTime, decodeSession, fieldName } from './codec.js';
import { CREATE, DESTROY, type RedisScript, SEAL, UPDATE } from './scripts.js';

/** What the move needs from its store. */
export interface MoveContext {
  /** `expiresAt` clamped to the store's `ttl`. */
  clamp(expiresAt: number, now: number): number;
  /** Runs a session script on `prefix + id`, failures mapped to store errors. */
  script(s: RedisScript, id: string, args: string[]): Promise<unknown>;
  /** The result of an UPDATE script, with the user index followed on Redis Cluster. */
  followed(id: string, expiresAt: number, reply: unknown): Promise<boolean>;
}

/**
 * Moves a session in three one-key steps, so it works on Redis Cluster, where the two keys
 * live in different slots: the new session is created empty (insert-if-absent), then the old
 * one is read and turned into a forward in one script — the atomic step: a write or logout
 * either lands before it (carried over, or the move finds nothing) or after it (finds no
 * session, or follows the forward) — then the kept fields are written to the new session.
 */
export async function moveSession(
  ctx: MoveContext,
  oldId: string,
  newId: string,
  move: SessionMove,
): Promise<MoveResult> {
  assertValidSessionId(oldId);
  assertValidSessionId(newId);
  const now = Date.now();
  const createdAt = checkTime(move?.createdAt, 'createdAt');
  const expiresAt = ctx.clamp(checkTime(move.expiresAt, 'expiresAt'), now);
  const until = checkTime(move.forwardUntil, 'forwardUntil');
  const fresh = move.into !== 'existing';
  if (fresh) {
    const args = [String(now), String(createdAt), String(expiresAt)];
    if ((await ctx.script(CREATE, newId, args)) !== 1) return { status: 'collision' };
  }
  const keep = move.keep;
  const sealArgs = [String(now), String(until), newId, keep === true ? '1' : '0'];
  if (keep !== true) {
    for (const key of keep) if (isCarried(key)) sealArgs.push(fieldName(key));
  }
  let sealed: unknown;
  try {
    sealed = await ctx.script(SEAL, oldId, sealArgs);
  } catch (error) {
    if (fresh) await ctx.script(DESTROY, newId, []).catch(() => {});
    throw error;
  }
  if (!Array.isArray(sealed)) {
    if (fresh) await ctx.script(DESTROY, newId, []);
    return { status: 'missing' };
  }
  const fields = sealed.slice(1).map((part: unknown) => asText(part));
  if (fields.length > 0) {
    const args = [String(now), String(expiresAt), String(fields.length / 2), ...fields];
    // 0: a logout followed the forward in between; the new session is gone already.
    const written = await ctx.script(UPDATE, newId, args);
    if (!(await ctx.followed(newId, expiresAt, written))) return { status: 'missing' };
  }
  const decoded = decodeSession(
    [...fields, 'c', String(createdAt), 'e', String(expiresAt)],
    Date.now() - 1,
  );
  if (typeof decoded === 'string' || decoded === undefined) {
    return { status: 'moved', data: Object.create(null) };
  }
  return { status: 'moved', data: decoded.data };
}
