// Entry point `@herald/testing`: the conformance suites every backend runs (the EventLog suite
// as one call or group by group, the Store suite), their harness types, and fixtures.
export { describeEventLogConformance, eventLogConformanceGroups } from './event-log-conformance.ts';
export { appendConformance, describeAppendConformance } from './event-log/append-conformance.ts';
export { closingConformance, describeClosingConformance } from './event-log/closing-conformance.ts';
export { commitsConformance, describeCommitConformance } from './event-log/commits-conformance.ts';
export { deliveryConformance, describeDeliveryConformance } from './event-log/delivery-conformance.ts';
export { describeDurabilityConformance, durabilityConformance } from './event-log/durability-conformance.ts';
export { describeFencingConformance, fencingConformance } from './event-log/fencing-conformance.ts';
export {
  describePartitioningConformance,
  partitioningConformance,
} from './event-log/partitioning-conformance.ts';
export { describeReadConformance, readConformance } from './event-log/read-conformance.ts';
export { describeRebalanceConformance, rebalancingConformance } from './event-log/rebalancing-conformance.ts';
export { describeTimestampConformance, timestampsConformance } from './event-log/timestamps-conformance.ts';
export { describeTopicConformance, topicsConformance } from './event-log/topics-conformance.ts';
export { AppendLoad } from './append-load.ts';
export type { AckedAppend, AppendLedgerCheck, AppendLoadOptions } from './append-load.ts';
export { ConformanceSuite, describeGroups } from './conformance-suite.ts';
export type {
  ConformanceEnvironment,
  ConformanceFixture,
  ConformanceGroup,
  ConformanceRequirement,
  ConformanceTarget,
  FaultHooks,
} from './conformance-suite.ts';
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
  waitWhileProgressing,
  within,
} from './fixtures.ts';
export {
  describeStoreConformance,
  storeAtomicityConformance,
  storeBadInputConformance,
  storeConcurrencyConformance,
  storeConformanceGroups,
  storeDocumentsConformance,
  storeFailuresConformance,
  storeInboxConformance,
  storeOutboxConformance,
} from './store-conformance.ts';
export type {
  StoreCapabilities,
  StoreConformanceGroup,
  StoreConformanceTarget,
  StoreEnvironment,
  StoreFixture,
  StoreTest,
} from './store-conformance.ts';
export { storeTimersConformance } from './store-timers-conformance.ts';
export { describeRuntimeConformance } from './runtime-conformance.ts';
export type { RuntimeEnvironment, RuntimeTarget } from './runtime-conformance.ts';
export { mountSmallDisk, smallDiskUnavailable } from './small-disk.ts';
export type { SmallDisk } from './small-disk.ts';
export { checkHistory, describeReport } from './history-checker.ts';
export type { AppliedEffect, History, HistoryReport, LoggedEvent, ProducedEvent } from './history-checker.ts';
export { describeFaults, runChurn } from './churn/churn.ts';
export type { ChurnOptions, ChurnResult, ChurnRound, FaultCounts } from './churn/churn.ts';
export type { PostgresTuning } from './churn/churn-shapes.ts';
export { describeChurn } from './churn/describe-churn.ts';
export type { ChurnEnvironment, ChurnTarget } from './churn/describe-churn.ts';
export { describeTimersCrash } from './timers-crash/timers-crash.ts';
export type {
  EmittedTimer,
  TimersCrashEnvironment,
  TimersCrashOutcome,
  TimersCrashTarget,
} from './timers-crash/timers-crash.ts';
export { runAuditedWorkload } from './audited-workload.ts';
export type { AuditedWorkload } from './audited-workload.ts';
