import { HeraldError } from '../errors.ts';
import { DEFAULT_MAX_BUFFERED_EVENTS, DEFAULT_SESSION_TIMEOUT_MS } from '../event-log.ts';
import type { StartPosition, SubscribeOptions } from '../event-log.ts';
import { checkStartPosition } from './validation.ts';

/** Longest consumer group name. */
export const MAX_GROUP_NAME_LENGTH = 255;

/** Subscribe options checked, with every default filled in and the topics sorted without repeats. */
export interface SubscribeSettings extends SubscribeOptions {
  readonly topics: readonly string[];
  readonly startAt: StartPosition;
  readonly sessionTimeoutMs: number;
  readonly maxBufferedEvents: number;
}

/** What a backend adds to the common subscribe rules. */
export interface SubscribeLimits {
  /**
   * Shortest session timeout the backend can keep alive (its heartbeats cross a network or a
   * file lock). Default 1 ms.
   */
  readonly minSessionTimeoutMs?: number;
}

/**
 * Checks a subscribe call before the member joins anything: a group name of 1 to
 * {@link MAX_GROUP_NAME_LENGTH} characters, at least one topic name, a session timeout of at
 * least the backend's minimum, a positive `maxBufferedEvents`, a valid `startAt`
 * (INVALID_ARGUMENT otherwise), and a signal not already aborted (CLOSED). Whether the topics
 * exist is the backend's to check (UNKNOWN_TOPIC).
 */
export function subscribeSettings(
  options: SubscribeOptions,
  limits: SubscribeLimits = {},
): SubscribeSettings {
  const group: unknown = options?.group;
  if (typeof group !== 'string' || group.length === 0 || group.length > MAX_GROUP_NAME_LENGTH) {
    throw invalid(`a consumer group needs a name of 1 to ${MAX_GROUP_NAME_LENGTH} characters`);
  }
  const topics: unknown = options.topics;
  if (!Array.isArray(topics) || topics.length === 0 || topics.some((topic) => typeof topic !== 'string')) {
    throw invalid('subscribe needs a list of one or more topic names');
  }
  const minSessionTimeoutMs = limits.minSessionTimeoutMs ?? 1;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  if (!Number.isSafeInteger(sessionTimeoutMs) || sessionTimeoutMs < minSessionTimeoutMs) {
    throw invalid(
      `sessionTimeoutMs must be an integer of at least ${minSessionTimeoutMs}, got ${String(sessionTimeoutMs)}`,
    );
  }
  const maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
  if (!Number.isSafeInteger(maxBufferedEvents) || maxBufferedEvents < 1) {
    throw invalid(`maxBufferedEvents must be a positive integer, got ${String(maxBufferedEvents)}`);
  }
  const startAt = checkStartPosition(options.startAt ?? 'earliest');
  if (options.signal?.aborted === true) {
    throw new HeraldError('CLOSED', 'the subscription signal was already aborted', {
      cause: options.signal.reason,
    });
  }
  return {
    ...options,
    topics: [...new Set(topics as string[])].sort(),
    startAt,
    sessionTimeoutMs,
    maxBufferedEvents,
  };
}

function invalid(message: string): HeraldError {
  return new HeraldError('INVALID_ARGUMENT', message);
}
