import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HeraldError } from '@herald/core';
import type { EventDefinition } from '@herald/core';
import type { Upcaster } from './define-upcaster.ts';
import { createEventReader } from './event-reader.ts';
import type { EventReader, NewerVersionPolicy } from './event-reader.ts';
import { parseEventType } from './event-type.ts';

/** A service that publishes: what it sends to which topic. */
export interface ProducerDescription {
  /** The service, e.g. `orders`. */
  readonly name: string;
  /** The CloudEvents `source` of its events, e.g. `/orders`. */
  readonly source: string;
  readonly publishes: readonly { readonly topic: string; readonly events: readonly EventDefinition[] }[];
}

/** A consumer group: the topics it reads and the versions its routes are written against. */
export interface ConsumerDescription {
  /** `<service>.<purpose>`, as given to the Router. */
  readonly group: string;
  readonly topics: readonly string[];
  /**
   * The definitions its routes use — its reader schemas. Other versions of the same events reach
   * these routes through the system's upcasters (older) or the `newer` policy.
   */
  readonly reads: readonly EventDefinition[];
  /** Default `decode`; see {@link NewerVersionPolicy}. */
  readonly newer?: NewerVersionPolicy;
}

/**
 * Where a system's events travel: one of the logs Herald runs on. `herald asyncapi` writes each
 * as an AsyncAPI server, and adds the bindings of its protocol (Kafka: topic, partitions,
 * record key, consumer group) to the channels, messages and operations.
 */
export interface ServerDescription {
  /** The server's key in the document, e.g. `kafka`. */
  readonly name: string;
  /** `embedded` (the SQLite log in the process), `kafka` or `nats`. */
  readonly log: 'embedded' | 'kafka' | 'nats';
  /** Where it listens (`host:port`), or `localhost` for the embedded log. */
  readonly host: string;
  readonly description?: string;
}

/**
 * What `herald schema check` and `herald asyncapi` need to know about a system: who publishes
 * what where, who consumes what, and the upcasters between versions. Export it from a module
 * (`export default defineSystem({…})` or `export const system = …`) and pass its path as
 * `--system`.
 */
export interface SystemDescription {
  readonly title: string;
  /** The version of the system's API, e.g. `1.0.0`. */
  readonly version: string;
  readonly description?: string;
  readonly producers: readonly ProducerDescription[];
  readonly consumers: readonly ConsumerDescription[];
  readonly upcasters?: readonly Upcaster[];
  /** Where its events travel; the AsyncAPI document lists no server without them. */
  readonly servers?: readonly ServerDescription[];
  /** Partitions of each topic, as the system creates them (stated in the Kafka and NATS bindings). */
  readonly partitions?: number;
}

/**
 * Checks a system description (versioned types, unique producer names and consumer groups, one
 * definition per type) and returns it.
 *
 * @example
 * export default defineSystem({
 *   title: 'Orders', version: '1.0.0',
 *   producers: [{ name: 'orders', source: '/orders', publishes: [{ topic: 'orders', events: [OrderPlacedV2] }] }],
 *   consumers: [{ group: 'billing.invoices', topics: ['orders'], reads: [OrderPlacedV2] }],
 *   upcasters: [orderPlacedV1ToV2],
 * });
 */
export function defineSystem(system: SystemDescription): SystemDescription {
  const fail = (message: string): never => {
    throw new HeraldError('INVALID_ARGUMENT', `system "${system.title}": ${message}`);
  };
  const names = new Set<string>();
  for (const producer of system.producers) {
    if (names.has(producer.name)) fail(`two producers are named ${producer.name}`);
    names.add(producer.name);
  }
  const groups = new Set<string>();
  for (const consumer of system.consumers) {
    if (groups.has(consumer.group)) fail(`two consumers use the group ${consumer.group}`);
    groups.add(consumer.group);
    if (consumer.topics.length === 0) fail(`consumer ${consumer.group} reads no topic`);
  }
  const servers = new Set<string>();
  for (const server of system.servers ?? []) {
    if (servers.has(server.name)) fail(`two servers are named ${server.name}`);
    servers.add(server.name);
  }
  if (system.partitions !== undefined && !(Number.isInteger(system.partitions) && system.partitions >= 1))
    fail(`partitions must be a whole number of at least 1, got ${system.partitions}`);
  const byType = new Map<string, EventDefinition>();
  for (const definition of definitionsIn(system)) {
    parseEventType(definition.type);
    const known = byType.get(definition.type);
    if (known !== undefined && known !== definition) fail(`two different definitions of ${definition.type}`);
    byType.set(definition.type, definition);
  }
  return system;
}

function definitionsIn(system: SystemDescription): EventDefinition[] {
  return [
    ...system.producers.flatMap((p) => p.publishes.flatMap((t) => t.events)),
    ...system.consumers.flatMap((c) => c.reads),
    ...(system.upcasters ?? []).flatMap((u) => [u.from, u.to]),
  ];
}

/** Every event definition the system mentions, one per type, sorted by type. */
export function definitionsOf(system: SystemDescription): EventDefinition[] {
  const byType = new Map<string, EventDefinition>();
  for (const definition of definitionsIn(system)) byType.set(definition.type, definition);
  return [...byType.values()].sort((a, b) => a.type.localeCompare(b.type));
}

/** The reader a consumer group decodes with: the system's upcasters and the group's newer policy. */
export function readerFor(system: SystemDescription, consumer: ConsumerDescription): EventReader {
  return createEventReader({
    upcasters: system.upcasters ?? [],
    ...(consumer.newer === undefined ? {} : { newer: consumer.newer }),
  });
}

/**
 * Imports the module at `path` (relative to `cwd`) and returns the system it exports as default
 * or as `system`. Throws `INVALID_ARGUMENT` when the module exports neither.
 */
export async function loadSystem(path: string, cwd: string = process.cwd()): Promise<SystemDescription> {
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new HeraldError('INVALID_ARGUMENT', `cannot load the system module ${path}: ${why}`, { cause });
  }
  const candidate = module['default'] ?? module['system'];
  if (!isSystem(candidate)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `${path} exports no system description: export default defineSystem({ title, version, producers, consumers })`,
    );
  }
  return defineSystem(candidate);
}

function isSystem(value: unknown): value is SystemDescription {
  if (value === null || typeof value !== 'object') return false;
  const system = value as Partial<SystemDescription>;
  return (
    typeof system.title === 'string' &&
    typeof system.version === 'string' &&
    Array.isArray(system.producers) &&
    Array.isArray(system.consumers)
  );
}
