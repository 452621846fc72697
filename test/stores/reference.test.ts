/** The README's "write your own store" example passes the same compliance suite as every store. */
import { ReferenceStore } from '../../examples/reference-store.js';
import { describeStore } from './compliance.js';

describeStore('ReferenceStore (examples/reference-store.ts)', async () => ({
  store: new ReferenceStore(),
  cleanup: async () => {},
}));
