// Stage 2: the consumers that replace the polling job. One consumer group per step, so a slow
// search index holds back neither the e-mails nor the points; each group retries its own
// failures and parks what still fails in `users.dead-letter` instead of stopping.
//
// Group names are `<service>.<purpose>`: renaming one makes a new group that reads `users`
// from the start again (and, with its new inbox, repeats the effects).
import {
  type EventLog,
  type Middleware,
  type Router,
  type Store,
  createRouter,
  deadLetter,
  idempotency,
  retry,
} from '@herald/core';
import { type WorkflowSteps, databaseSteps } from '../stage-1-rest/poller.ts';
import type { Sql } from '../stage-1-rest/sql-database.ts';
import { USERS_TOPIC, UserSignedUp } from './events.ts';

export interface ConsumersOptions {
  readonly log: EventLog;
  /** Herald's store: the inbox idempotency keeps, and the retry counts. */
  readonly store: Store;
  /** The application's database, which the steps write to (the live tables). */
  readonly db: Sql;
  readonly steps?: WorkflowSteps;
  /** Added inside the standard ones (dead letter, retry, idempotency), e.g. tracing or metrics. */
  readonly middleware?: readonly Middleware[];
  /** Retry's first delay; tests shorten it. Default 200 ms. */
  readonly retryDelayMs?: number;
}

/** The three groups and the step each one runs for every UserSignedUp. */
export const CONSUMER_GROUPS = {
  'welcome.mail': 'sendWelcome',
  'search.index': 'indexUser',
  'rewards.points': 'awardPoints',
} as const satisfies Record<string, keyof WorkflowSteps>;

/** Creates one router per step; the caller runs them (`router.run()`) and stops them. */
export function createConsumers({
  log,
  store,
  db,
  steps = databaseSteps(db),
  middleware = [],
  retryDelayMs = 200,
}: ConsumersOptions): Router[] {
  return Object.entries(CONSUMER_GROUPS).map(([group, step]) => {
    const router = createRouter({
      log,
      group,
      topics: [USERS_TOPIC],
      store,
      middleware: [
        deadLetter(),
        retry({ maxAttempts: 5, initialDelayMs: retryDelayMs }),
        ...middleware,
        idempotency({ store }),
      ],
    });
    router.on(UserSignedUp, async ({ userId, email, name }) => {
      await steps[step]({ id: userId, email, name });
    });
    return router;
  });
}
