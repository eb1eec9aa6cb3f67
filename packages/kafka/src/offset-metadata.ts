/*
 * What Herald keeps in the metadata string of a committed Kafka offset (OffsetCommit's
 * `committedMetadata`, which Kafka stores with the offset and returns from OffsetFetch): the
 * replay mark `resetGroup` sets. Kafka's own tools show the string and otherwise ignore it.
 *
 * The mark must survive the group's later commits, which replace the string: members read it
 * when they claim a partition and write it again with each commit (see kafka-subscription.ts).
 */

const PREFIX = 'herald:';

/** The metadata string for a committed offset: null when there is nothing to keep. */
export function encodeOffsetMetadata(replayUntil: number | undefined): string | null {
  return replayUntil === undefined ? null : `${PREFIX}${JSON.stringify({ replayUntil })}`;
}

/**
 * The replay mark in a committed offset's metadata string; undefined when there is none, and
 * for strings another Kafka client wrote (they are left alone, never an error).
 */
export function parseOffsetMetadata(metadata: string | null | undefined): number | undefined {
  if (typeof metadata !== 'string' || !metadata.startsWith(PREFIX)) return undefined;
  try {
    const parsed = JSON.parse(metadata.slice(PREFIX.length)) as { replayUntil?: unknown };
    const { replayUntil } = parsed;
    return Number.isSafeInteger(replayUntil) && (replayUntil as number) >= 0
      ? (replayUntil as number)
      : undefined;
  } catch {
    return undefined;
  }
}
