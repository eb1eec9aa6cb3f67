// Shadow runs of a service definition: the new version of a service, with its own middleware
// stack, run over history by `shadowRun` against a copy of its state, applying nothing.
import { HeraldError, type Router } from '@herald/core';
import { type ShadowReport, type ShadowRunOptions, shadowRun } from '@herald/core/ops';
import { Registry } from 'prom-client';
import { type Logger, SILENT_LOGGER, type ServiceDefinition } from './service.ts';

export interface ShadowServiceOptions extends Omit<
  ShadowRunOptions,
  'handlers' | 'router' | 'middleware' | 'decoder' | 'group' | 'topics'
> {
  /** The new version of the service. */
  readonly service: ServiceDefinition;
  /** The group to shadow. Default the service's only group (required when it has several). */
  readonly group?: string;
  /** The topics of the window. Default what the service consumes. */
  readonly topics?: readonly string[];
  /** Where the shadowed service logs. Default nowhere. */
  readonly logger?: Logger;
}

/**
 * Runs the new version of a service's group over a window of history with `shadowRun` and
 * returns the diff against the running version. The service is created with the shadow's log
 * and store and a registry of its own, so its middleware (retry, dead-letter, idempotency) runs
 * as in production but writes nothing: a handler that keeps failing is retried with the
 * service's backoff and its dead-lettering is recorded as an emitted event. The service's
 * `prepare` runs (into the shadow's overlay) only with `startFrom: 'empty'`. Unless `outputs` is
 * given, the running version's output is looked up in the topics the service produces.
 *
 * @example
 * const report = await shadowService({
 *   log, state: store, startFrom: 'empty', service: loyaltyService(deps, { pointsFor: newRule }),
 * });
 */
export async function shadowService(options: ShadowServiceOptions): Promise<ShadowReport> {
  const { service, logger, group: chosen, topics, ...run } = options;
  const group = chosen ?? (service.groups.length === 1 ? service.groups[0] : undefined);
  if (group === undefined || !service.groups.includes(group)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      chosen === undefined
        ? `service ${service.name} has groups ${service.groups.join(', ')}: name the one to shadow`
        : `service ${service.name} has no group ${chosen} (it has ${service.groups.join(', ')})`,
    );
  }
  return shadowRun({
    ...run,
    group,
    topics: topics ?? service.consumes,
    outputs: run.outputs ?? service.produces.map((p) => p.topic),
    router: async (shadow) => {
      const instance = service.create({
        name: service.name,
        log: shadow.log,
        store: shadow.store,
        registry: new Registry(),
        logger: logger ?? SILENT_LOGGER,
      });
      if (run.startFrom === 'empty') await instance.prepare?.();
      const router = instance.routers.map((build) => build()).find((r: Router) => r.group === group);
      if (router === undefined) {
        throw new HeraldError('INVALID_ARGUMENT', `service ${service.name} built no router for ${group}`);
      }
      return router;
    },
  });
}
