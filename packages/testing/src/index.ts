// Entry point `@herald/testing`: the EventLog conformance suite every backend runs, and fixtures.
export { describeEventLogConformance } from './event-log-conformance.ts';
export type { ConformanceEnvironment, ConformanceTarget } from './event-log-conformance.ts';
export {
  TEST_SOURCE,
  TEST_TYPE,
  collect,
  collectFor,
  eventNumber,
  makeEvent,
  nextEvent,
  readAll,
  readPartition,
  sleep,
  waitFor,
} from './fixtures.ts';
