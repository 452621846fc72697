import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { describeUserIndex } from './user-index-compliance.js';
import { describeUserSessionsHttp } from './user-sessions-http.js';

describeUserIndex('MemoryStore', async () => ({
  store: new MemoryStore({ maxSessions: 1_000_000 }),
  epochWithRecord: 'always',
  cleanup: async () => {},
}));

describeUserSessionsHttp('MemoryStore', async () => {
  const store = new MemoryStore();
  return {
    store,
    indexSize: async (userId) => (await store.listUser(userId)).length,
    cleanup: async () => {},
  };
});
