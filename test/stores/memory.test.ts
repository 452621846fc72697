import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import { describeStore } from './compliance.js';

describeStore('MemoryStore', async () => ({
  store: new MemoryStore(),
  cleanup: async () => {},
}));
