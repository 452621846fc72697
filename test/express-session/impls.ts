/**
 * The two implementations the drop-in tests compare: the real express-session (with its own
 * MemoryStore) and the drop-in (over MemoryStore, FileStore, RedisStore). Each scenario runs on
 * every one of them and asserts express-session's behaviour.
 */
import { after, before } from 'node:test';
import realSession from 'express-session';
import dropIn from '../../src/express-session/index.js';
import { Client, listen } from '../helpers/http.js';
import { makeApp } from './app.js';
import { STORES, type StoreKit } from './stores.js';

export type Factory = (options: Record<string, unknown>) => never;

export interface Impl {
  label: string;
  skip: string | undefined;
  /** Fresh per describe: a store (or none: the implementation's default) and the middleware. */
  setup(): Promise<{ session: Factory; store: unknown; cleanup(): Promise<void> }>;
}

export const real = realSession as unknown as Factory;
export const ours = dropIn as unknown as Factory;

export const IMPLS: Impl[] = [
  {
    label: 'express-session',
    skip: undefined,
    async setup() {
      return { session: real, store: new realSession.MemoryStore(), cleanup: async () => {} };
    },
  },
  ...STORES.map(
    (factory): Impl => ({
      label: `drop-in over ${factory.name}`,
      skip: factory.skip,
      async setup() {
        const kit: StoreKit = await factory.make();
        return { session: ours, store: kit.store, cleanup: () => kit.cleanup() };
      },
    }),
  ),
];

/** What a describe block over one implementation uses; filled by `before`, emptied by `after`. */
export interface Harness {
  session: Factory;
  store: unknown;
  /** Runs `fn` with a client of a fresh `makeApp` server on this implementation and store. */
  withClient(
    options: Record<string, unknown>,
    fn: (client: Client) => Promise<void>,
  ): Promise<void>;
}

/** Registers `before`/`after` hooks that set up `impl` for the enclosing describe. */
export function useImpl(impl: Impl): Harness {
  let cleanup: () => Promise<void> = async () => {};
  const harness: Harness = {
    session: real,
    store: undefined,
    async withClient(options, fn) {
      const server = await listen(makeApp(harness.session, { store: harness.store, ...options }));
      try {
        await fn(new Client(server.url));
      } finally {
        await server.close();
      }
    },
  };
  before(async () => {
    const setup = await impl.setup();
    harness.session = setup.session;
    harness.store = setup.store;
    cleanup = setup.cleanup;
  });
  after(() => cleanup());
  return harness;
}
