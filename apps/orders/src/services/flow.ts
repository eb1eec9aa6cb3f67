// What the services of the order flow share beyond the service kit: injected faults (inside the
// kit's default middleware, outside idempotency), outages that pause a downstream service's
// routers, and the partitions of the topics they produce.
import type { Middleware } from '@herald/core';
import {
  type PauseSignal,
  type ProducedTopic,
  type ServiceContext,
  defaultMiddleware,
} from '@herald/service';
import type { FaultController } from '@herald/orders-domain/faults.ts';
import type { DownstreamService } from '@herald/orders-domain/topology.ts';

/** What every service of the flow is built with. */
export interface FlowDeps {
  readonly faults: FaultController;
  /** Partitions of the topics a service produces, when created. */
  readonly partitions: number;
}

/**
 * The kit's default stack (deadLetter, retry, tracing, metrics, idempotency) with the service's
 * injected faults inside metrics: a perturbed attempt is retried, traced and measured like a real
 * failure, and never recorded as handled.
 */
export function withFaults(
  faults: FaultController,
  service: DownstreamService,
): (defaults: Middleware[], context: ServiceContext) => Middleware[] {
  return (_defaults, context) => defaultMiddleware(context, { inner: [faults.middleware(service)] });
}

/** Pauses a downstream service's routers while its injected outage is on. */
export function outageOf(faults: FaultController, service: DownstreamService): PauseSignal {
  return {
    get paused() {
      return faults.settings(service).outage;
    },
    subscribe: (listener) =>
      faults.onChange((changed, settings) => {
        if (changed === service) listener(settings.outage);
      }),
  };
}

/** `topics`, each created with `deps.partitions` partitions when missing. */
export function produced(deps: FlowDeps, ...topics: string[]): ProducedTopic[] {
  return topics.map((topic) => ({ topic, partitions: deps.partitions }));
}
