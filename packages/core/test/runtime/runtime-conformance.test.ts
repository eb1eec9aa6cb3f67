// The runtime suite on the in-memory log, with the test store.
import { describeRuntimeConformance } from '@herald/testing';
import { openMemoryLog } from '../../src/memory.ts';
import { MemoryStore } from './fixtures/memory-store.ts';

describeRuntimeConformance({
  name: 'memory',
  setup: async () => {
    const log = await openMemoryLog();
    const store = new MemoryStore(log);
    return { log, store, [Symbol.asyncDispose]: () => log.close() };
  },
});
