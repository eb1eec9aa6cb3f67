export { PermanentFailure, compose } from './handler.ts';
export type { Handler, HandlerContext, Middleware } from './handler.ts';
export { createProducer } from './producer.ts';
export type {
  BatchItem,
  Producer,
  ProducerOptions,
  ProducerSettings,
  ProducerSink,
  Publish,
  PublishMiddleware,
  PublishOptions,
} from './producer.ts';
export { Router, createRouter } from './router.ts';
export { DEFAULT_INBOX_RETENTION_MS, startInboxRetention } from './inbox-retention.ts';
export type { InboxRetention, InboxRetentionOptions } from './inbox-retention.ts';
export type { EventDecoder, RouteOptions, RouterOptions, TypedHandler } from './router.ts';
export type { DeadLetterPolicy } from './key-parking.ts';
export { TIMER_COLLECTIONS, fireDueTimers, pendingTimers, startTimers } from './timers.ts';
export type { FiredTimers, ScheduleAt, TimerRecord, Timers, TimersOptions } from './timers.ts';
export type {
  DeliveryKey,
  FailureRecord,
  InboxOutcome,
  InboxEntry,
  InboxQuery,
  StateRecord,
  InboxStatus,
  Store,
  StoreTransaction,
  TransactionOptions,
} from './store.ts';
export { backoffDelay, isPermanent, retry } from './middleware/retry.ts';
export type { RetryOptions } from './middleware/retry.ts';
export {
  DEAD_LETTER_ATTRIBUTES,
  DEAD_LETTER_CHANNEL,
  deadLetter,
  deadLetterTopicOf,
} from './middleware/dead-letter.ts';
export type { DeadLetterMessage, DeadLetterOptions } from './middleware/dead-letter.ts';
export { fingerprintOf, idempotency } from './middleware/idempotency.ts';
export { timeout } from './middleware/timeout.ts';
