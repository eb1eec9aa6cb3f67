import diagnostics from 'node:diagnostics_channel';
import type { CloudEvent, StoredEvent } from '../../envelope.ts';
import { isHeraldError } from '../../errors.ts';
import type { AppendResult } from '../../event-log.ts';
import type { Middleware } from '../handler.ts';
import type { FailureRecord } from '../store.ts';

export interface DeadLetterOptions {
  /** The dead-letter topic of a topic. Default `<topic>.dead-letter`. */
  readonly topicFor?: (topic: string) => string;
}

/** Extension attributes a dead-lettered event carries (names are CloudEvents-legal). */
export const DEAD_LETTER_ATTRIBUTES = {
  error: 'dlerror',
  code: 'dlcode',
  attempts: 'dlattempts',
  group: 'dlgroup',
  topic: 'dltopic',
  partition: 'dlpartition',
  offset: 'dloffset',
  firstFailure: 'dlfirstfailure',
  lastFailure: 'dllastfailure',
} as const;

export const deadLetterTopicOf = (topic: string): string => `${topic}.dead-letter`;

/**
 * The `node:diagnostics_channel` on which `deadLetter` publishes a `DeadLetterMessage` after each
 * event it parked. Nothing is built when nobody subscribes. The `metrics` middleware counts
 * dead letters from it.
 *
 * @example diagnostics_channel.subscribe(DEAD_LETTER_CHANNEL, (m) => console.warn((m as DeadLetterMessage).event.id));
 */
export const DEAD_LETTER_CHANNEL = 'herald:dead-letter';

/** What `DEAD_LETTER_CHANNEL` carries: the event as the group received it (the same object) and where it was parked. */
export interface DeadLetterMessage {
  readonly event: StoredEvent;
  readonly group: string;
  readonly error: unknown;
  readonly attempts: number;
  readonly parked: AppendResult;
}

const deadLetterChannel = diagnostics.channel(DEAD_LETTER_CHANNEL);

/**
 * Moves an event whose handling failed for good (retries used up, a permanent failure, poison)
 * to `<topic>.dead-letter`, so the partition moves on. The dead letter keeps its original
 * attributes, id, key and exact data bytes, plus failure metadata as `dl*` extensions: the
 * error, its code, the attempts, the group, the original topic/partition/offset and the first
 * and last failure times. The dead-letter topic is created on first use with the partitions of
 * the original topic (same key → same partition).
 *
 * Put it outermost, outside `retry`. Shutdown is not a failure: an event interrupted by a stop
 * is redelivered, not dead-lettered.
 *
 * Ordering: in a router with a store, a dead-lettered event with a key parks that key (unless its
 * route says `deadLetters: 'skip'`): the key's later events are held back, as positions in the
 * store, until the dead letter is redriven and handled or discarded, then handled in their
 * original order. Other keys keep flowing. See docs/parking.md.
 */
export function deadLetter(options: DeadLetterOptions = {}): Middleware {
  const topicFor = options.topicFor ?? deadLetterTopicOf;
  const created = new Set<string>();
  return (next) => async (event, context) => {
    // `context.failures` is a snapshot from before the first attempt; the attempts made inside
    // (by `retry`) are the ones their `recordFailure` calls return.
    let recorded: FailureRecord | undefined;
    try {
      await next(event, {
        ...context,
        recordFailure: async (error) => (recorded = await context.recordFailure(error)),
      });
    } catch (error) {
      if (context.signal.aborted) throw error;
      const failures = recorded ?? context.failures;
      const attempts = recorded?.attempts ?? context.attempt;
      const now = Date.now();
      const target = topicFor(event.topic);
      if (!created.has(target)) {
        const source = await context.log.describeTopic(event.topic);
        await context.log.createTopic(target, { partitions: source.partitions }).catch((e: unknown) => {
          if (!isHeraldError(e, 'TOPIC_EXISTS')) throw e;
        });
        created.add(target);
      }
      const result = await context.log.append(
        target,
        parked(event, error, context.group, attempts, failures?.firstFailureAt ?? now, now),
        {
          partition: event.partition % (await context.log.describeTopic(target)).partitions,
        },
      );
      // The key is parked (by the route's policy) before the event counts as handled: a crash in
      // between redelivers it, and it is dead-lettered again (a second entry) and parked.
      await context.deadLettered?.(result);
      if (deadLetterChannel.hasSubscribers) {
        const message: DeadLetterMessage = {
          event,
          group: context.group,
          error,
          attempts,
          parked: result,
        };
        deadLetterChannel.publish(message);
      }
    }
  };
}

function parked(
  event: StoredEvent,
  error: unknown,
  group: string,
  attempts: number,
  firstFailureAt: number,
  lastFailureAt: number,
): CloudEvent {
  const { topic, partition, offset, timestamp: _timestamp, extensions, ...attributes } = event;
  const message = error instanceof Error ? error.message : String(error);
  const code = isHeraldError(error) ? error.code : error instanceof Error ? error.name : 'Error';
  const A = DEAD_LETTER_ATTRIBUTES;
  return {
    ...attributes,
    extensions: {
      ...extensions,
      [A.error]: message.slice(0, 2000),
      [A.code]: code,
      [A.attempts]: String(attempts),
      [A.group]: group,
      [A.topic]: topic,
      [A.partition]: String(partition),
      [A.offset]: String(offset),
      [A.firstFailure]: new Date(firstFailureAt).toISOString(),
      [A.lastFailure]: new Date(lastFailureAt).toISOString(),
    },
  };
}
