import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EventLog, HeraldError, ensureTopic, isHeraldError } from '@herald/core';
import { openMemoryLog } from '@herald/core/memory';

/**
 * A log where another client creates `name` between our listTopics and createTopic, and whose
 * metadata shows the new topic only after `unseenReads` reads (as a Kafka broker may).
 */
async function racingLog(name: string, unseenReads: number): Promise<{ log: EventLog; reads: () => number }> {
  const real = await openMemoryLog();
  let reads = 0;
  // Only what ensureTopic calls; the rest of the EventLog is never reached.
  const log = {
    listTopics: () => real.listTopics(),
    async createTopic(topic: string, options: { partitions: number }) {
      await real.createTopic(topic, options);
      throw new HeraldError('TOPIC_EXISTS', `topic "${topic}" already exists`);
    },
    async describeTopic(topic: string) {
      reads++;
      if (topic === name && reads <= unseenReads)
        throw new HeraldError('UNKNOWN_TOPIC', `no topic "${topic}"`);
      return real.describeTopic(topic);
    },
  } as unknown as EventLog;
  return { log, reads: () => reads };
}

describe('ensureTopic', () => {
  it('reads a topic another client just created again until the metadata shows it', async () => {
    const { log, reads } = await racingLog('orders', 3);
    const topic = await ensureTopic(log, 'orders', { partitions: 4 });
    assert.equal(topic.partitions, 4);
    assert.equal(reads(), 4);
  });

  it('refuses with CONFLICT a topic another client created with another partition count', async () => {
    const { log } = await racingLog('orders', 0);
    await log.createTopic('orders', { partitions: 2 }).catch(() => undefined);
    await assert.rejects(ensureTopic(log, 'orders', { partitions: 4 }), (error) =>
      isHeraldError(error, 'CONFLICT'),
    );
  });
});
