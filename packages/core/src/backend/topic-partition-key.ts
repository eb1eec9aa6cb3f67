import type { TopicPartition } from '../event-log.ts';

/**
 * The one way Herald writes a partition as a map key: `topic#partition`. Topic names cannot
 * contain `#` (see the topic-name rule), so the key is unambiguous and
 * {@link parseTopicPartitionKey} inverts it.
 */
export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}#${partition}`;
}

/** The partition a {@link topicPartitionKey} names. */
export function parseTopicPartitionKey(key: string): TopicPartition {
  const at = key.lastIndexOf('#');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

/** Orders partitions by topic name, then partition number. */
export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1;
}
