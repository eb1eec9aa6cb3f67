import type { EventLog } from '@herald/core';
import { describeEventLogConformance } from '@herald/testing';
import { createMemoryBroker, openMemoryLog } from '../src/memory-log.ts';

describeEventLogConformance({
  name: 'memory',
  async setup() {
    const broker = createMemoryBroker();
    const clients: EventLog[] = [];
    return Promise.resolve({
      async open() {
        const log = await openMemoryLog({ broker });
        clients.push(log);
        return log;
      },
      async [Symbol.asyncDispose]() {
        await Promise.all(clients.map((client) => client.close()));
      },
    });
  },
});
