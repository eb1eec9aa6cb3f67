// Stage 5's consumers: stage 2's routers (one group per step, retry, dead letters, idempotency),
// running this stage's steps, each of which has one effect per user however often it runs.
import type { Router } from '@herald/core';
import { type ConsumersOptions, createConsumers as consumersOf } from '../stage-2-outbox/consumers.ts';
import { databaseSteps } from './steps.ts';

export { CONSUMER_GROUPS } from '../stage-2-outbox/consumers.ts';

/** Creates one router per step; the caller runs them (`router.run()`) and stops them. */
export function createConsumers(options: ConsumersOptions): Router[] {
  return consumersOf({ ...options, steps: options.steps ?? databaseSteps(options.db) });
}
