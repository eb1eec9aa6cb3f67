// Shadow runs of a service definition: the new version of a service, with its own middleware
// stack, run over history by `shadowRun` against a copy of its state, applying nothing.
import { HeraldError, type Router } from '@herald/core';
import { type ShadowReport, type ShadowRunOptions, type ShadowTarget, shadowRun } from '@herald/core/ops';
import { Registry } from 'prom-client';
import { type Logger, SILENT_LOGGER, type ServiceDefinition } from './service.ts';

export interface ServiceShadowOptions {
  /** The group to shadow. Default the service's only group (required when it has several). */
  readonly group?: string;
  /** Where the shadowed service logs. Default nowhere. */
  readonly logger?: Logger;
}

/**
 * What to shadow for a service definition: one of its groups, on the topics the service
 * consumes, with the running version's output looked up in the topics it produces. The service
 * is created with the shadow's log and store and a registry of its own, so its middleware
 * (retry, dead-letter, idempotency) runs as in production but writes nothing: a handler that
 * keeps failing is retried with the service's backoff and its dead-lettering is recorded as an
 * emitted event. The service's `prepare` runs (into the shadow's overlay) only when the shadow
 * starts from an empty state. A module for `herald shadow` exports what this returns.
 *
 * @example export default serviceShadow(loyaltyService(deps, { rule: doublePointsFrom(40) }));
 */
export function serviceShadow(service: ServiceDefinition, options: ServiceShadowOptions = {}): ShadowTarget {
  const chosen = options.group;
  const group = chosen ?? (service.groups.length === 1 ? service.groups[0] : undefined);
  if (group === undefined || !service.groups.includes(group)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      chosen === undefined
        ? `service ${service.name} has groups ${service.groups.join(', ')}: name the one to shadow`
        : `service ${service.name} has no group ${chosen} (it has ${service.groups.join(', ')})`,
    );
  }
  return {
    group,
    topics: service.consumes,
    outputs: service.produces.map((p) => p.topic),
    router: async (shadow) => {
      const instance = service.create({
        name: service.name,
        log: shadow.log,
        store: shadow.store,
        registry: new Registry(),
        logger: options.logger ?? SILENT_LOGGER,
      });
      if (shadow.startFrom === 'empty') await instance.prepare?.();
      const router = instance.routers.map((build) => build()).find((r: Router) => r.group === group);
      if (router === undefined) {
        throw new HeraldError('INVALID_ARGUMENT', `service ${service.name} built no router for ${group}`);
      }
      return router;
    },
  };
}

export interface ShadowServiceOptions
  extends Omit<ShadowRunOptions, keyof ShadowTarget>, ServiceShadowOptions {
  /** The new version of the service. */
  readonly service: ServiceDefinition;
  /** Where the running version's output is. Default the topics the service produces. */
  readonly outputs?: readonly string[];
}

/**
 * Runs the new version of a service's group over a window of history with `shadowRun` (see
 * {@link serviceShadow}) and returns the diff against the running version.
 *
 * @example
 * const report = await shadowService({
 *   log, state: store, startFrom: 'empty', service: loyaltyService(deps, { rule: doublePointsFrom(40) }),
 * });
 */
export async function shadowService(options: ShadowServiceOptions): Promise<ShadowReport> {
  const { service, logger, group, outputs, ...run } = options;
  const target = serviceShadow(service, {
    ...(group === undefined ? {} : { group }),
    ...(logger === undefined ? {} : { logger }),
  });
  return shadowRun({ ...run, ...target, ...(outputs === undefined ? {} : { outputs }) });
}
