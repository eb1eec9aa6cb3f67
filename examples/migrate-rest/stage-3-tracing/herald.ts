// Herald's side of the application as stage 2 opens it, with every consumer traced and
// measured: the metrics (handled, failed, retried, dead-lettered, and each group's lag) go to a
// registry the API serves at GET /metrics.
import { metrics, registerLagMetrics } from '@herald/core/metrics';
import { tracing } from '@herald/core/tracing';
import { Registry } from 'prom-client';
import type { SqlDatabase } from '../stage-1-rest/sql-database.ts';
import * as stage2 from '../stage-2-outbox/consumers.ts';
import { type Herald, heraldLogFile, openHerald } from '../stage-2-outbox/herald.ts';

/** Opens Herald's side with traced and measured consumers, relaying the outbox every 50 ms. */
export async function openTracedHerald(
  db: SqlDatabase,
  createConsumers = stage2.createConsumers,
): Promise<Herald & { readonly registry: Registry }> {
  const registry = new Registry();
  const herald = await openHerald({
    db,
    logFile: await heraldLogFile(db),
    relayEveryMs: 50,
    consumers: (log, store) =>
      createConsumers({ log, store, db, middleware: [tracing({ log }), metrics({ registry })] }),
  });
  registerLagMetrics(herald.log, Object.keys(stage2.CONSUMER_GROUPS), registry);
  return { ...herald, registry };
}
