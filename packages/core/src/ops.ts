// Entry point `@herald/core/ops`: what operators run against a live system rather than what a
// service calls while it handles events: redriving dead-lettered entries (capped, deduplicated
// and audited through a store), discarding them (releasing the keys they park), listing a
// group's parked keys, reading the facts a dead-letter entry carries, and reading a whole
// partition page by page, auditing a group's delivery guarantees, a group's lag in events and in
// seconds, migrating a log and the services' state beside it, and shadow runs of a new version
// of a group's handlers. The CLI takes it from here, and so will a console.
export {
  AUDIT_EVENT_TYPE,
  AUDIT_TOPIC,
  appendAudit,
  auditEvent,
  auditRecordOf,
  ensureAuditTopic,
  readAuditTrail,
} from './audit-trail.ts';
export type { AuditEntry, AuditOutcome, AuditRecord, AuditTrailPage } from './audit-trail.ts';
export { buildChain, byAppend, committedOffsets } from './causation-chain.ts';
export type { Chain, ChainDeadLetter, ChainNode, CommittedOffsets } from './causation-chain.ts';
export { AUDIT_VIOLATION_KINDS, auditGroup, auditViolationCount } from './audit-group.ts';
export type {
  AuditOptions,
  AuditPosition,
  AuditReport,
  AuditViolation,
  AuditViolationKind,
  AuditedPartition,
} from './audit-group.ts';
export { groupLag } from './group-lag.ts';
export type { GroupLag, GroupLagOptions, PartitionLag } from './group-lag.ts';
export { migrateLog } from './migrate-log.ts';
export { defaultOwnerOf, migrateState, prefixOf } from './migrate-state.ts';
export type { MigrateStateOptions, OwnerStateMigration, StateMigrationReport } from './migrate-state.ts';
export type { GroupMigration, MigrateOptions, MigrationReport, PartitionMigration } from './migrate-log.ts';
export { formatShadowReport, shadowRun } from './shadow-run.ts';
export type {
  ShadowBound,
  ShadowCollectionDiff,
  ShadowContext,
  ShadowDocumentSample,
  ShadowEventDiff,
  ShadowEventSample,
  ShadowEventView,
  ShadowFailure,
  ShadowReport,
  ShadowRunOptions,
  ShadowTarget,
  ShadowWindow,
} from './shadow-run.ts';
export { ShadowStore } from './shadow-store.ts';
export type { RecordedEmit } from './shadow-store.ts';
export { readPartition } from './read-partition.ts';
export type { ReadPartitionOptions } from './read-partition.ts';
export {
  AUDIT_COLLECTION,
  DEFAULT_MAX_REDRIVES,
  REDRIVE_ATTRIBUTE,
  REDRIVE_COLLECTION,
  auditId,
  deadLetterMetadataOf,
  readEntry,
  redrive,
  redriveRecordId,
  redrivenEvent,
} from './runtime/redrive.ts';
export { discard } from './runtime/discard.ts';
export type {
  DiscardAuditEntry,
  DiscardOptions,
  DiscardOutcome,
  DiscardResult,
  ReleasedKey,
} from './runtime/discard.ts';
export { PARKED_EVENTS_COLLECTION, PARKED_KEYS_COLLECTION, parkedKeys } from './runtime/key-parking.ts';
export type { ParkedEvent, ParkedKey, ParkingRelease } from './runtime/key-parking.ts';
export type {
  DiscardMark,
  DeadLetterMetadata,
  RedriveAuditEntry,
  RedriveHistoryItem,
  RedriveOptions,
  RedriveOutcome,
  RedrivePosition,
  RedriveRecord,
  RedriveResult,
} from './runtime/redrive.ts';
