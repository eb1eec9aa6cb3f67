// Entry point `@herald/core/backend`: the machinery that backend packages share and
// applications never call. A backend is its transport plus what is truly its own; everything
// every backend needs (validation, partition choice, the consumer-group protocol, the delivery
// queue, claim history, fault hooks) is written once here.
export { assignPartitions } from './assignment.ts';
export type { MemberSubscription } from './assignment.ts';
export { ClaimHistory, DeliveryClaim } from './claim-history.ts';
export { murmur2 } from '../partitioner.ts';
export {
  DEFAULT_MAX_BUFFERED_EVENTS,
  DEFAULT_READ_LIMIT,
  DEFAULT_SESSION_TIMEOUT_MS,
  faultInjection,
} from '../event-log.ts';
export type { FaultInjectable } from '../event-log.ts';
export { compareTopicPartitions, parseTopicPartitionKey, topicPartitionKey } from './topic-partition-key.ts';
export { DeliveryQueue } from './delivery-queue.ts';
export type { DeliverySource } from './delivery-queue.ts';
export {
  MAX_PARTITIONS,
  MAX_TOPIC_NAME_LENGTH,
  assertTopicName,
  checkCommitOffset,
  checkPartition,
  checkPartitionCount,
  checkReadLimit,
  checkReadOptions,
  checkReadPosition,
  checkRetention,
  checkStartPosition,
  isTopicName,
} from './validation.ts';
export { assertRecordSize, recordBytes } from './record-size.ts';
export { MAX_GROUP_NAME_LENGTH, subscribeSettings } from './subscribe-settings.ts';
export type { SubscribeLimits, SubscribeSettings } from './subscribe-settings.ts';
export { PartitionChooser } from './partition-chooser.ts';
export {
  addMember,
  assignTargets,
  coordinationStep,
  describeMembers,
  emptyGroup,
  isExpired,
  ownershipChanges,
  raiseEpoch,
  reapExpired,
  releasePartitions,
  removeMember,
  renewLease,
} from './group-protocol.ts';
export type {
  GroupRecord,
  HeldClaim,
  MemberRecord,
  OwnershipChanges,
  PartitionCounts,
  PartitionRecord,
  StepResult,
} from './group-protocol.ts';
export { compareAndSetCell } from './group-cell.ts';
export type { CompareAndSetStore, GroupCell, GroupStep } from './group-cell.ts';
export { GroupMembership, commitRequest } from './group-membership.ts';
export type { Coordination, MembershipSettings } from './group-membership.ts';
export { faultHooksFor } from './fault-hooks.ts';
export type { CrashSteps, FaultableSubscription } from './fault-hooks.ts';
export { failureWrapper, wrapBackendFailure } from './backend-failure.ts';
export type { FailureClass, FailureWrapper } from './backend-failure.ts';
export { withTimers } from '../runtime/timers.ts';
export {
  STATE_PAGE_SIZE,
  checkCollection,
  checkListLimit,
  checkPruneArguments,
  checkStatePageSize,
  checkStateRecords,
  encodeDocument,
} from './store-arguments.ts';
export { isPort, parseHostPort } from './host-port.ts';
export { telemetryOf } from './telemetry-of.ts';
export type { HostPort } from './host-port.ts';
export { parseHostList, readLogUrlQuery, splitLogUrl } from './log-url.ts';
export type { CommonUrlOptions, LogUrlParts } from './log-url.ts';
export {
  checkKnownKeys,
  checkServerList,
  clientIdOption,
  invalidOption,
  positiveOption,
} from './option-checks.ts';
export { HEADER_ATTRIBUTES, isStructuredContentType, strictUtf8 } from './header-attributes.ts';
