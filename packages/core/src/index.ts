export { HERALD_ERROR_CODES, HeraldError, isHeraldError } from './errors.ts';
export type { ErrorCodeRetry, HeraldErrorCode, HeraldErrorOptions } from './errors.ts';
export {
  EXTENSION_NAME,
  KNOWN_ATTRIBUTES,
  assertValidEnvelope,
  attributesOf,
  eventFromAttributes,
} from './envelope.ts';
export type { CloudEvent, StoredEvent } from './envelope.ts';
export {
  CAUSATION_ID,
  CORRELATION_ID,
  causationOf,
  correlationOf,
  eventBeingHandled,
  runHandling,
  stampCausation,
} from './causation.ts';
export { decodeStructuredCloudEvent } from './structured-cloud-event.ts';
export { defineEvent } from './define-event.ts';
export type { CreateEventOptions, EventData, EventDefinition } from './define-event.ts';
export { partitionFor } from './partitioner.ts';
export type {
  ForeignRecordDetails,
  AppendOptions,
  AppendResult,
  CreateTopicOptions,
  EventLog,
  GroupDescription,
  GroupMember,
  GroupPartitionState,
  GroupResetPlan,
  ResetGroupOptions,
  ResetTarget,
  LogCapabilities,
  LogTelemetry,
  PartitionInfo,
  PartitionOffset,
  ReadOptions,
  ReadPosition,
  RetentionPolicy,
  StartPosition,
  SubscribeOptions,
  Subscription,
  TopicDescription,
  TopicInfo,
  TopicPartition,
} from './event-log.ts';
export { ensureTopic } from './ensure-topic.ts';
export { DEFAULT_LOG_URL, logUrlFrom, openEventLog } from './open-event-log.ts';
export type { LogBackendModule } from './open-event-log.ts';
export { openStore } from './open-store.ts';
export { redactUrl } from './redact-url.ts';
export type { OpenStoreOptions, StoreBackendModule } from './open-store.ts';
export * from './runtime/index.ts';
