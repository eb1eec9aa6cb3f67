import { type EventLog, ensureTopic } from '@herald/core';
import { ORDERS_TOPIC } from './events.ts';

/**
 * Creates the topics this service writes when they are missing, and leaves existing ones as
 * they are: safe on every start, on every backend. (The dead-letter topic,
 * `orders.dead-letter`, is created by the dead-letter middleware on first use.)
 */
export async function ensureTopics(log: EventLog): Promise<void> {
  await ensureTopic(log, ORDERS_TOPIC, { partitions: 4 });
}
