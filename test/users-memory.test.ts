import { MemoryStore } from '../src/stores/memory/memory-store.js';
import { describeUserSessionsHttp } from './stores/user-sessions-http.js';

describeUserSessionsHttp('MemoryStore', async () => {
  const store = new MemoryStore();
  return {
    store,
    indexSize: async (userId) => (await store.listUser(userId)).length,
    cleanup: async () => {},
  };
});
