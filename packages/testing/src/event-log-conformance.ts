// The EventLog conformance suite: one named group per behaviour area, each runnable alone,
// and the whole suite in one call.
import type { ConformanceGroup, ConformanceTarget } from './conformance-suite.ts';
import { describeGroups } from './conformance-suite.ts';
import { appendConformance } from './event-log/append-conformance.ts';
import { closingConformance } from './event-log/closing-conformance.ts';
import { commitsConformance } from './event-log/commits-conformance.ts';
import { deliveryConformance } from './event-log/delivery-conformance.ts';
import { durabilityConformance } from './event-log/durability-conformance.ts';
import { fencingConformance } from './event-log/fencing-conformance.ts';
import { partitioningConformance } from './event-log/partitioning-conformance.ts';
import { readConformance } from './event-log/read-conformance.ts';
import { rebalancingConformance } from './event-log/rebalancing-conformance.ts';
import { timestampsConformance } from './event-log/timestamps-conformance.ts';
import { topicsConformance } from './event-log/topics-conformance.ts';

/** Every group of the EventLog conformance suite, in the order the whole suite runs them. */
export const eventLogConformanceGroups: readonly ConformanceGroup[] = [
  topicsConformance,
  appendConformance,
  partitioningConformance,
  readConformance,
  timestampsConformance,
  deliveryConformance,
  rebalancingConformance,
  fencingConformance,
  commitsConformance,
  closingConformance,
  durabilityConformance,
];

/**
 * Registers the whole EventLog conformance suite for one backend, with node:test. Every backend
 * (memory, SQLite, Kafka, NATS) runs the same tests; a test needing what the backend declares
 * it lacks in `capabilities` (or fault hooks it does not offer) is skipped with the reason.
 * To run one behaviour area alone, call its group's function instead (`describeFencingConformance`, …).
 *
 * @example
 * describeEventLogConformance({
 *   name: 'memory',
 *   async setup() {
 *     const broker = createMemoryBroker();
 *     const clients: EventLog[] = [];
 *     return {
 *       open: async () => { const log = await openMemoryLog({ broker }); clients.push(log); return log; },
 *       [Symbol.asyncDispose]: async () => { await Promise.all(clients.map((c) => c.close())); },
 *     };
 *   },
 * });
 */
export function describeEventLogConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, eventLogConformanceGroups);
}
