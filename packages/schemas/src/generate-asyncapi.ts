import type { EventDefinition } from '@herald/core';
import type { SystemDescription } from './define-system.ts';
import { definitionsOf } from './define-system.ts';
import { parseEventType, schemaUri } from './event-type.ts';
import { jsonSchemaOf } from './json-schema.ts';
import type { JsonSchema } from './json-schema.ts';

/** An AsyncAPI document as plain JSON. */
export type AsyncApiDocument = Record<string, unknown>;

/** The AsyncAPI version Herald generates. */
export const ASYNCAPI_VERSION = '3.0.0';

const KEY = /[^a-zA-Z0-9.\-_]/g;

/** A component or channel key AsyncAPI accepts (`^[a-zA-Z0-9.\-_]+$`). */
function keyOf(name: string): string {
  return name.replace(KEY, '_');
}

/**
 * The AsyncAPI 3.0 document of a system: one channel per topic (`address` = the topic), one
 * message per event type (payload = the JSON Schema derived from its definition, headers = the
 * CloudEvents attributes, `dataschema` = the version's registry URI), one `send` operation per
 * producer and topic, one `receive` operation per consumer group and topic. Deterministic (sorted)
 * so a committed document only changes when the system does.
 *
 * A consumer's receive operation lists every message of the channel that is a version of an event
 * it reads (older versions reach it through upcasters, newer ones by its `newer` policy). A type
 * is on the channels of the topics its producers publish it to; one no producer declares is on
 * every topic its consumers read.
 */
export function generateAsyncApi(system: SystemDescription): AsyncApiDocument {
  const definitions = definitionsOf(system);
  const messages: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const definition of definitions) {
    const key = keyOf(definition.type);
    schemas[key] = rebaseRefs(jsonSchemaOf(definition), `#/components/schemas/${key}`);
    messages[key] = messageOf(definition, key);
  }

  const channelMessages = new Map<string, Set<string>>();
  const addToChannel = (topic: string, type: string) => {
    const set = channelMessages.get(topic) ?? new Set<string>();
    set.add(type);
    channelMessages.set(topic, set);
  };
  for (const producer of system.producers) {
    for (const { topic, events } of producer.publishes) for (const d of events) addToChannel(topic, d.type);
  }
  // A consumer receives a published type on the topics it is published to; a type no producer
  // declares is listed on every topic its consumers read (it comes from outside the system).
  const published = new Set([...channelMessages.values()].flatMap((types) => [...types]));
  for (const consumer of system.consumers) {
    for (const topic of consumer.topics) {
      for (const d of consumer.reads) if (!published.has(d.type)) addToChannel(topic, d.type);
    }
  }

  const channels: Record<string, unknown> = {};
  for (const topic of [...channelMessages.keys()].sort()) {
    const types = [...channelMessages.get(topic)!].sort();
    channels[keyOf(topic)] = {
      address: topic,
      title: topic,
      description: `Herald topic ${topic}. Events are CloudEvents 1.0; on Kafka they travel in the binary binding (ce_* headers, key = partitionkey).`,
      messages: Object.fromEntries(
        types.map((t) => [keyOf(t), { $ref: `#/components/messages/${keyOf(t)}` }]),
      ),
    };
  }

  const operations: Record<string, unknown> = {};
  const channelRef = (topic: string) => ({ $ref: `#/channels/${keyOf(topic)}` });
  const messageRefs = (topic: string, types: readonly string[]) =>
    [...new Set(types)].sort().map((t) => ({ $ref: `#/channels/${keyOf(topic)}/messages/${keyOf(t)}` }));
  for (const producer of system.producers) {
    for (const { topic, events } of producer.publishes) {
      operations[keyOf(`${producer.name}.publish.${topic}`)] = {
        action: 'send',
        channel: channelRef(topic),
        title: `${producer.name} publishes to ${topic}`,
        summary: `Service ${producer.name} (CloudEvents source ${producer.source}) appends these events to ${topic}.`,
        messages: messageRefs(
          topic,
          events.map((d) => d.type),
        ),
      };
    }
  }
  for (const consumer of system.consumers) {
    const subjects = new Set(consumer.reads.map((d) => parseEventType(d.type).subject));
    for (const topic of consumer.topics) {
      const readable = [...(channelMessages.get(topic) ?? [])].filter((t) =>
        subjects.has(parseEventType(t).subject),
      );
      operations[keyOf(`${consumer.group}.consume.${topic}`)] = {
        action: 'receive',
        channel: channelRef(topic),
        title: `${consumer.group} consumes ${topic}`,
        summary: `Consumer group ${consumer.group} reads ${topic} with routes for ${consumer.reads
          .map((d) => d.type)
          .sort()
          .join(', ')}.`,
        messages: messageRefs(topic, readable),
      };
    }
  }

  const sortedOperations = Object.fromEntries(
    Object.entries(operations).sort(([a], [b]) => a.localeCompare(b)),
  );
  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: system.title,
      version: system.version,
      ...(system.description === undefined ? {} : { description: system.description }),
    },
    defaultContentType: 'application/json',
    channels,
    operations: sortedOperations,
    components: { messages, schemas },
  };
}

function messageOf(definition: EventDefinition, key: string): Record<string, unknown> {
  const { subject, version } = parseEventType(definition.type);
  const uri = schemaUri(subject, version);
  return {
    name: definition.type,
    title: `${subject} v${version}`,
    contentType: 'application/json',
    headers: {
      type: 'object',
      description: 'CloudEvents 1.0 context attributes (ce_* headers in the Kafka binary binding).',
      properties: {
        specversion: { const: '1.0' },
        id: { type: 'string' },
        source: { type: 'string', format: 'uri-reference' },
        type: { const: definition.type },
        time: { type: 'string', format: 'date-time' },
        subject: { type: 'string' },
        datacontenttype: { const: 'application/json' },
        dataschema: { const: uri },
        partitionkey: { type: 'string', description: 'Events with the same key keep their order.' },
        traceparent: { type: 'string' },
      },
      required: ['specversion', 'id', 'source', 'type'],
    },
    payload: { $ref: `#/components/schemas/${key}` },
    'x-herald-subject': subject,
    'x-herald-version': version,
    'x-herald-dataschema': uri,
  };
}

/** Rewrites a schema's local `$ref`s (`#`, `#/definitions/…`) to point inside its new home. */
function rebaseRefs(schema: JsonSchema, base: string): unknown {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] =
        key === '$ref' && typeof inner === 'string' && inner.startsWith('#')
          ? `${base}${inner.slice(1)}`
          : walk(inner);
    }
    return out;
  };
  return walk(schema);
}
