/**
 * `regenerate` on a store without `move`: the move done in steps through the required methods.
 * Read the old session as stored, create the new one (or fill the one just created), re-read the
 * old one (a logout since wins: the new session goes; writes since are carried over), then
 * destroy it. A logout or write landing between the re-read and the destroy is missed: stores
 * with `move` close that window.
 */
import { pickKeys } from './data.js';
import { callStore } from './store-call.js';
import type {
  JsonValue,
  MoveResult,
  SessionChanges,
  SessionMove,
  SessionRecord,
  SessionStore,
} from './types.js';

const MISSING: MoveResult = Object.freeze({ status: 'missing' });
const COLLISION: MoveResult = Object.freeze({ status: 'collision' });

/** Moves `oldId` to `id` as `move` says; `isLive` is the manager's check of a stored record. */
export async function moveInSteps(
  store: SessionStore,
  oldId: string,
  id: string,
  move: SessionMove,
  isLive: (record: SessionRecord, now: number) => boolean,
): Promise<MoveResult> {
  const before = await callStore(() => store.get(oldId));
  if (!before || !isLive(before, Date.now())) return MISSING;
  const data = pickKeys(before.data, move.keep);
  if (move.into === 'existing') {
    const changes = diff(Object.create(null), data);
    if (changes && !(await callStore(() => store.update(id, changes, move.expiresAt)))) {
      return MISSING;
    }
  } else {
    const record = { data, createdAt: move.createdAt, expiresAt: move.expiresAt };
    if (!(await callStore(() => store.create(id, record)))) return COLLISION;
  }
  const after = await callStore(() => store.get(oldId));
  if (!after || !isLive(after, Date.now())) {
    if (move.into !== 'existing') await callStore(() => store.destroy(id));
    return MISSING;
  }
  const latest = pickKeys(after.data, move.keep);
  const changes = diff(data, latest);
  if (changes && !(await callStore(() => store.update(id, changes, move.expiresAt)))) {
    return MISSING;
  }
  await callStore(() => store.destroy(oldId));
  return { status: 'moved', data: latest };
}

/** The change that turns `from` into `to` (keys compared by their JSON), or `undefined`. */
function diff(
  from: Record<string, JsonValue>,
  to: Record<string, JsonValue>,
): SessionChanges | undefined {
  const set: Record<string, JsonValue> = Object.create(null);
  const unset: string[] = [];
  let changed = false;
  for (const key of Object.keys(to)) {
    if (!Object.hasOwn(from, key) || JSON.stringify(from[key]) !== JSON.stringify(to[key])) {
      set[key] = to[key] as JsonValue;
      changed = true;
    }
  }
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) {
      unset.push(key);
      changed = true;
    }
  }
  return changed ? { set, unset } : undefined;
}
