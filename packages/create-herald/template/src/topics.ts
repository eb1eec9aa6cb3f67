import { type EventLog, isHeraldError } from '@herald/core';
import { ORDERS_TOPIC } from './events.ts';

/**
 * Creates the topics this service writes when they are missing, and leaves existing ones as
 * they are: safe on every start. (The dead-letter topic, `orders.dead-letter`, is created by
 * the dead-letter middleware on first use.)
 */
export async function ensureTopics(log: EventLog): Promise<void> {
  try {
    await log.createTopic(ORDERS_TOPIC, { partitions: 4 });
  } catch (error) {
    if (!(isHeraldError(error) && error.code === 'TOPIC_EXISTS')) throw error;
  }
}
