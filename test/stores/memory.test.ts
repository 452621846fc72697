import { MemoryStore } from '../../src/stores/memory.js';
import { describeStore } from './compliance.js';

describeStore('MemoryStore', async () => ({
  store: new MemoryStore(),
  cleanup: async () => {},
}));
