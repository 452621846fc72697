import { NotSupportedError, StoreUnavailableError } from '../errors.js';
import type { ExpressStoreLike } from '../legacy-call.js';

/**
 * How the sessions of an express-session store are listed: `all()` in its three shapes, or the
 * ids of stores whose `all()` gives sessions without them.
 */

/**
 * The ids of a store whose `all()` can't be used: its `ids()` (connect-redis, memorystore), or
 * session-file-store's `list()` of file names, which end in its `options.fileExtension`.
 */
export async function listIds(
  source: ExpressStoreLike,
  call: (method: 'ids' | 'list') => Promise<unknown>,
): Promise<string[]> {
  const store = source as ExpressStoreLike & { options?: { fileExtension?: unknown } };
  if (typeof store.ids === 'function') {
    const ids = await call('ids');
    if (!Array.isArray(ids)) {
      throw new StoreUnavailableError("the express-session store's ids() gave no array");
    }
    return ids.map(String);
  }
  const extension = store.options?.fileExtension;
  if (typeof store.list === 'function' && typeof extension === 'string' && extension !== '') {
    const files = await call('list');
    if (!Array.isArray(files)) {
      throw new StoreUnavailableError("the express-session store's list() gave no array");
    }
    return files
      .map(String)
      .filter((file) => file.endsWith(extension))
      .map((file) => file.slice(0, -extension.length));
  }
  throw new NotSupportedError(
    typeof store.all === 'function'
      ? "the express-session store's all() gives sessions without their ids, and it has no ids(); it can't be listed"
      : 'the express-session store has no all() method, so its sessions cannot be listed',
  );
}

/**
 * `[id, session]` pairs of what `all()` gave: an object keyed by id, or an array of sessions
 * carrying `id` or `sid` (removed from the data). `undefined` when an item has no id.
 */
export function normalizeAll(result: unknown): Array<[string, unknown]> | undefined {
  if (result === undefined || result === null) return [];
  if (typeof result !== 'object') {
    throw new StoreUnavailableError(
      "the express-session store's all() gave neither an object nor an array",
    );
  }
  if (!Array.isArray(result)) return Object.entries(result);
  const pairs: Array<[string, unknown]> = [];
  for (const item of result) {
    if (item === null || typeof item !== 'object') return undefined;
    const session = { ...(item as Record<string, unknown>) };
    const field =
      typeof session.id === 'string' ? 'id' : typeof session.sid === 'string' ? 'sid' : undefined;
    if (field === undefined) return undefined;
    const id = session[field] as string;
    delete session[field];
    pairs.push([id, session]);
  }
  return pairs;
}
