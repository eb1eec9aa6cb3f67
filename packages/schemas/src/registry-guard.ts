import { HeraldError } from '@herald/core';
import type { CloudEvent, EventDefinition, PublishMiddleware } from '@herald/core';
import { parseEventType } from './event-type.ts';
import { jsonSchemaOf, schemaFingerprint } from './json-schema.ts';
import type { SchemaRegistry } from './schema-registry.ts';

export interface RegistryGuardOptions {
  /**
   * The definitions this producer publishes: the guard compares the JSON Schema each one derives
   * with the registered version of its type, so a definition changed without a new version is
   * refused too, not only a version nobody registered.
   */
  readonly definitions: readonly EventDefinition[];
}

/**
 * Publish middleware that refuses any event whose (type, schema) is not registered, and sets
 * each event's `dataschema` to the registry URI of its version
 * (`herald:schemas/<subject>/versions/<n>`). A type missing from the registry's last read makes
 * it re-read the registry once before refusing, so a version registered by another process is
 * seen. Refusals are `INVALID_ARGUMENT` errors with `details.reason` `SCHEMA_NOT_REGISTERED`,
 * `SCHEMA_CHANGED` or `NO_DEFINITION`; nothing of the batch is appended.
 *
 * @example
 * const producer = createProducer({
 *   log, source: '/orders',
 *   middleware: [registryGuard(registry, { definitions: [OrderPlaced, OrderConfirmed] })],
 * });
 */
export function registryGuard(registry: SchemaRegistry, options: RegistryGuardOptions): PublishMiddleware {
  const definitions = new Map<string, EventDefinition>();
  for (const definition of options.definitions) definitions.set(definition.type, definition);
  const fingerprints = new Map<string, string>();
  const fingerprintOf = (definition: EventDefinition): string => {
    let fingerprint = fingerprints.get(definition.type);
    if (fingerprint === undefined) {
      fingerprint = schemaFingerprint(jsonSchemaOf(definition));
      fingerprints.set(definition.type, fingerprint);
    }
    return fingerprint;
  };

  const stamp = async (event: CloudEvent): Promise<CloudEvent> => {
    const definition = definitions.get(event.type);
    if (definition === undefined) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `registryGuard has no definition of ${event.type}: add it to the guard's definitions`,
        { details: { reason: 'NO_DEFINITION', type: event.type } },
      );
    }
    let registered = registry.lookup(event.type);
    if (registered === undefined) {
      await registry.refresh();
      registered = registry.lookup(event.type);
    }
    if (registered === undefined) {
      const { subject, version } = parseEventType(event.type);
      const known = registry.subject(subject)?.versions.map((v) => v.version) ?? [];
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `${event.type} is not registered (${subject} has ${known.length === 0 ? 'no versions' : `versions ${known.join(', ')}`}): register it first (herald schema register)`,
        { details: { reason: 'SCHEMA_NOT_REGISTERED', type: event.type, subject, version } },
      );
    }
    if (registered.fingerprint !== fingerprintOf(definition)) {
      throw new HeraldError(
        'INVALID_ARGUMENT',
        `the schema of ${event.type} differs from its registered version ${registered.version}: a registered version never changes; define the next version of ${registered.subject}`,
        {
          details: {
            reason: 'SCHEMA_CHANGED',
            type: event.type,
            subject: registered.subject,
            version: registered.version,
          },
        },
      );
    }
    return { ...event, dataschema: registered.uri };
  };

  return (next) => async (topic, events) => {
    const stamped: CloudEvent[] = [];
    for (const event of events) stamped.push(await stamp(event));
    return next(topic, stamped);
  };
}
