import type { EventDefinition } from '@herald/core';
import type { ServerDescription, SystemDescription } from './define-system.ts';
import { definitionsOf } from './define-system.ts';
import { parseEventType, schemaUri } from './event-type.ts';
import { jsonSchemaOf } from './json-schema.ts';
import type { JsonSchema } from './json-schema.ts';

/** An AsyncAPI document as plain JSON. */
export type AsyncApiDocument = Record<string, unknown>;

/** The AsyncAPI version Herald generates. */
export const ASYNCAPI_VERSION = '3.0.0';

/** The version of the AsyncAPI Kafka bindings the document uses. */
const KAFKA_BINDING_VERSION = '0.5.0';

/**
 * The CloudEvents context attributes Herald carries as headers, in the order it writes them
 * (`datacontenttype` travels as `content-type`). Keep in step with `@herald/core`'s envelope: the
 * orders app's AsyncAPI test encodes an event with the Kafka and NATS bindings and checks that
 * every header they write is declared here.
 */
const HEADER_ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'dataschema',
  'partitionkey',
  'traceparent',
  'tracestate',
] as const;
const REQUIRED_ATTRIBUTES = ['specversion', 'id', 'source', 'type'];

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

  const servers = system.servers ?? [];
  const onKafka = servers.some((s) => s.log === 'kafka');
  const onNats = servers.some((s) => s.log === 'nats');
  const channels: Record<string, unknown> = {};
  for (const topic of [...channelMessages.keys()].sort()) {
    const types = [...channelMessages.get(topic)!].sort();
    channels[keyOf(topic)] = {
      address: topic,
      title: topic,
      description:
        `Herald topic ${topic}. Events are CloudEvents 1.0 in binary content mode: on Kafka a record of topic ` +
        `${topic} (key = partitionkey, \`ce_*\` headers), on NATS a message on subject \`herald.${topic}.{partition}\` ` +
        '(`ce-*` headers), in the embedded log a row of its SQLite file.',
      messages: Object.fromEntries(
        types.map((t) => [keyOf(t), { $ref: `#/components/messages/${keyOf(t)}` }]),
      ),
      ...(onKafka
        ? {
            bindings: {
              kafka: {
                topic,
                ...(system.partitions === undefined ? {} : { partitions: system.partitions }),
                bindingVersion: KAFKA_BINDING_VERSION,
              },
            },
          }
        : {}),
      ...(onNats ? { 'x-herald-nats': natsNamesOf(topic, system.partitions) } : {}),
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
        ...(onKafka
          ? {
              bindings: {
                kafka: {
                  groupId: { type: 'string', enum: [consumer.group] },
                  bindingVersion: KAFKA_BINDING_VERSION,
                },
              },
            }
          : {}),
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
    ...(servers.length === 0
      ? {}
      : { servers: Object.fromEntries(servers.map((server) => [keyOf(server.name), serverOf(server)])) }),
    channels,
    operations: sortedOperations,
    components: { messages: withBindings(messages, onKafka), schemas },
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
      description:
        'The CloudEvents 1.0 context attributes as headers, as they travel: `ce_{attribute}` on Kafka, ' +
        '`ce-{attribute}` on NATS (values percent-encoded as in the CloudEvents HTTP binding), ' +
        'datacontenttype as `content-type` on both. Extension attributes travel the same way.',
      oneOf: [
        headersOf('Kafka (CloudEvents Kafka binding, binary mode)', 'ce_', definition.type, uri, {}),
        headersOf('NATS (CloudEvents binary mode in NATS message headers)', 'ce-', definition.type, uri, {
          'Nats-Msg-Id': {
            type: 'string',
            description: "JetStream's de-duplication key: the event's source and id, space-separated.",
          },
          'Herald-Data': { const: 'none', description: 'Present when the event has no data at all.' },
        }),
      ],
    },
    payload: { $ref: `#/components/schemas/${key}` },
    'x-herald-subject': subject,
    'x-herald-version': version,
    'x-herald-dataschema': uri,
  };
}

/** The headers of a message on one transport: `prefix` + attribute, and `content-type`. */
function headersOf(
  title: string,
  prefix: string,
  type: string,
  dataschema: string,
  own: Record<string, unknown>,
): Record<string, unknown> {
  const attribute: Record<string, Record<string, unknown>> = {
    specversion: { const: '1.0' },
    id: { type: 'string', minLength: 1 },
    source: { type: 'string', minLength: 1, description: 'A URI-reference naming the producer.' },
    type: { const: type },
    time: { type: 'string', description: 'RFC 3339.' },
    subject: { type: 'string' },
    dataschema: { const: dataschema },
    partitionkey: {
      type: 'string',
      description: 'Events with the same key keep their order (on Kafka the record key too).',
    },
    traceparent: { type: 'string', description: 'W3C trace context.' },
    tracestate: { type: 'string', description: 'W3C trace context.' },
  };
  return {
    title,
    type: 'object',
    properties: {
      ...Object.fromEntries(HEADER_ATTRIBUTES.map((name) => [`${prefix}${name}`, attribute[name]])),
      'content-type': { const: 'application/json', description: 'The datacontenttype attribute.' },
      ...own,
    },
    patternProperties: {
      [`^${prefix}[a-z0-9]{1,20}$`]: { type: 'string', description: 'An extension attribute.' },
    },
    required: REQUIRED_ATTRIBUTES.map((name) => `${prefix}${name}`),
  };
}

/** The AsyncAPI server of one of the system's logs. */
function serverOf(server: ServerDescription): Record<string, unknown> {
  const protocol = server.log === 'embedded' ? 'sqlite' : server.log;
  const what = {
    embedded: 'The embedded log: a SQLite file inside the process (`HERALD_LOG=sqlite:{file}`).',
    kafka: 'Apache Kafka (`HERALD_LOG=kafka://…`): one topic per Herald topic, Kafka consumer groups.',
    nats: 'NATS JetStream (`HERALD_LOG=nats://…`): one stream per topic partition, groups kept in KV buckets.',
  }[server.log];
  return {
    host: server.host,
    protocol,
    title: server.name,
    description: server.description === undefined ? what : `${what} ${server.description}`,
  };
}

/** Where a topic lives on NATS: one stream and subject per partition. */
function natsNamesOf(topic: string, partitions: number | undefined): Record<string, unknown> {
  // Names that are one NATS token already are used as they are; others are escaped (see
  // @herald/nats), which this document does not repeat.
  const plain = /^[A-Za-z0-9-]+$/.test(topic);
  return {
    subject: `herald.${plain ? topic : '{escaped topic}'}.{partition}`,
    stream: `HERALD_${plain ? topic : '{escaped topic}'}_{partition}`,
    ...(partitions === undefined ? {} : { partitions }),
  };
}

/** With a Kafka server, each message states its record key: the `partitionkey` attribute. */
function withBindings(messages: Record<string, unknown>, onKafka: boolean): Record<string, unknown> {
  if (!onKafka) return messages;
  return Object.fromEntries(
    Object.entries(messages).map(([key, message]) => [
      key,
      {
        ...(message as Record<string, unknown>),
        bindings: {
          kafka: {
            key: {
              type: 'string',
              description: "The event's partitionkey (UTF-8): events with the same key stay in order.",
            },
            bindingVersion: KAFKA_BINDING_VERSION,
          },
        },
      },
    ]),
  );
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
