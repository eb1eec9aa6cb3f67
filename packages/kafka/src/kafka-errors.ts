import type { HeraldErrorCode } from '@herald/core';
import { failureWrapper } from '@herald/core/backend';
import type { FailureClass, FailureWrapper } from '@herald/core/backend';
import { findErrorBy } from '@platformatic/kafka';

/** Kafka error ids that mean "this member no longer holds what it thinks it holds". */
export const GROUP_MEMBERSHIP_ERRORS = [
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
] as const;

/** Errors after which the group coordinator must be looked up again. */
export const COORDINATOR_ERRORS = [
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
] as const;

const BY_KAFKA_ID: Readonly<Record<string, HeraldErrorCode>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'UNKNOWN_TOPIC',
  UNKNOWN_TOPIC_ID: 'UNKNOWN_TOPIC',
  TOPIC_ALREADY_EXISTS: 'TOPIC_EXISTS',
  INVALID_TOPIC_EXCEPTION: 'INVALID_ARGUMENT',
  INVALID_PARTITIONS: 'INVALID_ARGUMENT',
  INVALID_CONFIG: 'INVALID_ARGUMENT',
  INVALID_REPLICATION_FACTOR: 'INVALID_ARGUMENT',
  INVALID_GROUP_ID: 'INVALID_ARGUMENT',
  // The group is used by consumers that speak another assignment protocol.
  INCONSISTENT_GROUP_PROTOCOL: 'INVALID_ARGUMENT',
  MESSAGE_TOO_LARGE: 'TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'TOO_LARGE',
  ILLEGAL_GENERATION: 'FENCED',
  UNKNOWN_MEMBER_ID: 'FENCED',
  REBALANCE_IN_PROGRESS: 'FENCED',
  FENCED_INSTANCE_ID: 'FENCED',
  REQUEST_TIMED_OUT: 'TIMEOUT',
};

/** True when `error` (or one it wraps) is the Kafka protocol error with one of these ids. */
export function hasKafkaError(error: unknown, ...ids: readonly string[]): boolean {
  if (!(error instanceof Error)) return false;
  return ids.some((id) => findErrorBy(error, 'apiId', id) !== null);
}

/** The id of the first Kafka protocol error inside `error` (e.g. `UNKNOWN_MEMBER_ID`). */
export function kafkaErrorId(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const found = findErrorBy(error, 'code', 'PLT_KFK_PROTOCOL') as { apiId?: unknown } | null;
  return typeof found?.apiId === 'string' ? found.apiId : undefined;
}

/** A connection failure or timeout: the broker could not be reached or did not answer. */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    findErrorBy(error, 'code', 'PLT_KFK_NETWORK') !== null ||
    findErrorBy(error, 'code', 'PLT_KFK_TIMEOUT') !== null ||
    /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(error.message)
  );
}

/** A failure worth retrying as it is: the broker is unreachable, busy, or its coordinator moved. */
export function isTransient(error: unknown): boolean {
  return (
    isNetworkError(error) ||
    hasKafkaError(
      error,
      ...COORDINATOR_ERRORS,
      'REQUEST_TIMED_OUT',
      'NOT_ENOUGH_REPLICAS',
      'LEADER_NOT_AVAILABLE',
    )
  );
}

/** The lib's answer for a topic its metadata request did not find. */
export function isUnknownTopic(error: unknown): boolean {
  return (
    hasKafkaError(error, 'UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID') ||
    (error instanceof Error &&
      findErrorBy(error, 'code', 'PLT_KFK_USER') !== null &&
      /Unknown topic/i.test(error.message))
  );
}

/**
 * Maps a `@platformatic/kafka` failure to a HeraldError: unreachable brokers are
 * BACKEND_UNAVAILABLE, the broker's own refusals keep their meaning (UNKNOWN_TOPIC,
 * TOPIC_EXISTS, TOO_LARGE, FENCED, …), and anything unrecognised is BACKEND_UNAVAILABLE,
 * because it means the broker did not do what was asked. The original error stays as `cause`.
 */
export const toHeraldError: FailureWrapper = failureWrapper(classifyKafkaFailure);

function classifyKafkaFailure(error: unknown): FailureClass {
  const id = kafkaErrorId(error);
  const network = error instanceof Error ? findErrorBy(error, 'code', 'PLT_KFK_NETWORK') : null;
  const innermost =
    network?.cause instanceof Error ? `${network.message} (${network.cause.message})` : network?.message;
  const reason = id ?? innermost ?? (error instanceof Error ? error.message : String(error));
  let code: HeraldErrorCode = (id === undefined ? undefined : BY_KAFKA_ID[id]) ?? 'BACKEND_UNAVAILABLE';
  if (id === undefined && isUnknownTopic(error)) code = 'UNKNOWN_TOPIC';
  return id === undefined ? { code, reason } : { code, reason, details: { kafkaError: id } };
}
