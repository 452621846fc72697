/**
 * The per-user side of the manager: the login a `regenerate` asks for, the creation of a session
 * bound to a user, the epoch check of a bound session on load, and the work behind
 * `listUserSessions`, `destroyUserSession` and `destroyUserSessions`. The policy itself (handles,
 * epochs, limits) is `UserSessions`'; this file applies it to requests.
 */
import { InvalidOptionError } from './errors.js';
import type { RequestState, SessionRequest, StateSlot } from './request-state.js';
import { callStore } from './store-call.js';
import {
  type JsonValue,
  type SessionRecord,
  type SessionStore,
  USER_BINDING_KEY,
  type UserBinding,
} from './types.js';
import {
  assertUserId,
  checkMeta,
  takeBinding,
  type UserLogin,
  type UserSessionInfo,
  type UserSessions,
} from './users.js';

/** Stores a record under a fresh id with `create`, makes it the request's session; its id. */
export type InsertWith = (
  record: SessionRecord,
  create: (id: string, record: SessionRecord) => Promise<boolean>,
) => Promise<string>;

export class UserRequests {
  readonly #store: SessionStore;
  readonly #users: UserSessions;
  readonly #slot: StateSlot;

  constructor(store: SessionStore, users: UserSessions, slot: StateSlot) {
    this.#store = store;
    this.#users = users;
    this.#slot = slot;
  }

  /** Validates the `user`/`meta` of a regenerate; `undefined` keeps the old session's user. */
  loginOf(options: {
    user?: string | null;
    meta?: Record<string, JsonValue>;
  }): UserLogin | null | undefined {
    const { user, meta } = options;
    if (user === undefined || user === null) {
      if (meta !== undefined) {
        throw new InvalidOptionError('regenerate meta needs user: give { user, meta } together');
      }
      return user;
    }
    assertUserId(user);
    this.#users.tier('regenerate({ user })');
    return { userId: user, meta: checkMeta(meta) };
  }

  /**
   * Creates `record` as a session bound to the user (through the user index, `replacing` the
   * request's old session when there is one) and makes it the request's session; resolves its id.
   */
  async create(
    state: RequestState,
    record: SessionRecord,
    login: UserLogin | UserBinding,
    replacing: string | undefined,
    insert: InsertWith,
  ): Promise<string> {
    const userId = 'userId' in login ? login.userId : login.id;
    const binding = await callStore(() => this.#users.bindingFor({ userId, meta: login.meta }));
    const data = record.data;
    const bound = {
      ...record,
      data: { ...data, [USER_BINDING_KEY]: binding as unknown as JsonValue },
    };
    const id = await insert(bound, (newId, r) => this.#users.create(newId, r, userId, replacing));
    state.data = data;
    state.user = binding;
    return id;
  }

  /**
   * A bound session just loaded: it stays only while the user's epoch has not passed it. When
   * the store vouched for the record (`userCurrent`) or read the epoch with it (`userEpoch`),
   * the answer is given at once (no promise), else after the store's `userEpoch`.
   */
  admit(state: RequestState, record: SessionRecord): boolean | Promise<boolean> {
    const binding = takeBinding(state.data!);
    if (!binding) return this.#refuse(state);
    if (record.userCurrent === true) return this.#accept(state, binding);
    const epoch = record.userEpoch;
    if (epoch !== undefined) {
      return this.#users.epochAllowsKnown(binding, epoch)
        ? this.#accept(state, binding)
        : this.#refuse(state);
    }
    return callStore(() => this.#users.epochAllows(binding)).then((allowed) =>
      allowed ? this.#accept(state, binding) : this.#refuse(state),
    );
  }

  #accept(state: RequestState, binding: UserBinding): true {
    state.user = binding;
    return true;
  }

  /** The session is not used, and goes: its user's epoch passed it, or its binding is unusable. */
  #refuse(state: RequestState): false {
    const id = state.id!;
    state.forget();
    this.#store.destroy(id).catch(() => {});
    return false;
  }

  /** The user's live sessions; the one of `current`, if given, is marked. */
  list(userId: string, current: SessionRequest | undefined): Promise<UserSessionInfo[]> {
    assertUserId(userId);
    const currentId = current === undefined ? undefined : this.#slot.of(current).id;
    return callStore(() => this.#users.list(userId, currentId));
  }

  /** Destroys the session of `userId` that `handle` names; resolves whether one was destroyed. */
  async destroyOne(userId: string, handle: string): Promise<boolean> {
    assertUserId(userId);
    const id = await callStore(() => this.#users.find(userId, handle));
    if (id === undefined) return false;
    await callStore(() => this.#store.destroy(id));
    return true;
  }

  /** Destroys the user's sessions but the one of `except`, raising the user's epoch. */
  async destroyAll(userId: string, except: SessionRequest | undefined): Promise<number> {
    assertUserId(userId);
    const kept = except === undefined ? undefined : this.#slot.of(except);
    const epoch = await callStore(() => this.#users.nextEpoch(userId));
    let keptId: string | undefined;
    if (kept?.user?.id === userId) {
      // Stamped with the coming epoch *before* it is raised, so no load of the kept session ever
      // sees itself behind the user's epoch.
      keptId = await kept.enqueue(() => this.#restamp(kept, epoch));
    }
    return callStore(() => this.#users.revoke(userId, epoch, keptId));
  }

  /** Re-binds the request's session under `epoch`; resolves its id, or `undefined` if it is gone. */
  async #restamp(state: RequestState, epoch: number): Promise<string | undefined> {
    const id = state.id;
    const user = state.user;
    if (id === undefined || user === undefined) return undefined;
    const binding = { ...user, epoch };
    const set = { [USER_BINDING_KEY]: binding as unknown as JsonValue };
    const updated = await callStore(() => this.#store.update(id, { set }, state.expiresAt));
    if (!updated) return undefined;
    state.user = binding;
    return id;
  }
}
