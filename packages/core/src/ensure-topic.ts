import type { CreateTopicOptions, EventLog, TopicInfo } from './event-log.ts';
import { HeraldError, isHeraldError } from './errors.ts';

/**
 * Creates `name` with `options` unless it exists, and returns the topic as the log has it.
 * Idempotent and safe to run from several processes at once on every backend: a topic another
 * process created in between (`TOPIC_EXISTS`) counts as there. Uses only the EventLog API.
 *
 * An existing topic must have `options.partitions` partitions: a different count changes which
 * partition a key lands in, so it is refused with `CONFLICT`, naming both counts, and the topic
 * is left as it is. Retention of an existing topic is not compared (backends round it).
 *
 * @example await ensureTopic(log, 'orders', { partitions: 4 }); // a second run returns the same topic
 */
export async function ensureTopic(
  log: EventLog,
  name: string,
  options: CreateTopicOptions,
): Promise<TopicInfo> {
  const existing = await findTopic(log, name);
  if (existing !== undefined) return samePartitions(existing, options);
  try {
    return await log.createTopic(name, options);
  } catch (error) {
    if (!isHeraldError(error, 'TOPIC_EXISTS')) throw error;
    // Created by another client in between: read it as the log has it. A broker can say it
    // exists before its metadata shows it (Kafka propagates new topics to every broker after
    // the creation is acknowledged), so an unknown topic is asked for again for a while.
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await log.describeTopic(name);
        return samePartitions(
          { name: created.name, partitions: created.partitions, retention: created.retention },
          options,
        );
      } catch (cause) {
        if (!isHeraldError(cause, 'UNKNOWN_TOPIC')) throw cause;
        if (attempt >= METADATA_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1000)));
      }
    }
  }
}

/** Reads of a topic another client just created, about 10 s in all, before giving up on it. */
const METADATA_ATTEMPTS = 14;

async function findTopic(log: EventLog, name: string): Promise<TopicInfo | undefined> {
  return (await log.listTopics()).find((topic) => topic.name === name);
}

function samePartitions(topic: TopicInfo, options: CreateTopicOptions): TopicInfo {
  if (topic.partitions === options.partitions) return topic;
  throw new HeraldError(
    'CONFLICT',
    `topic "${topic.name}" exists with ${topic.partitions} partitions, not the ${options.partitions} asked for; ` +
      'use the existing count or a new topic name (changing the count moves keys to other partitions)',
  );
}
