// The AsyncAPI document says what travels on the wire, exactly: an event the orders service
// really appended (on a real SQLite log), encoded by the Kafka and the NATS binding, carries
// only headers the document declares for that transport, with the values it states, and on Kafka
// its record key is the partitionkey the message binding describes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { StoredEvent } from '@herald/core';
import { encodeCloudEvent as encodeForKafka } from '@herald/kafka';
import { encodeCloudEvent as encodeForNats } from '@herald/nats';
import { TOPICS } from '@herald/orders-domain/events.ts';
import { apiOf, eventsOf, openTestSystem, placeOrder, tempFolder } from './fixtures/order-system.ts';

interface HeaderSchema {
  title: string;
  properties: Record<string, { const?: string }>;
  patternProperties: Record<string, unknown>;
  required: string[];
}
interface Message {
  name: string;
  headers: { oneOf: HeaderSchema[] };
  bindings: { kafka: { key: { type: string } } };
}

const document = JSON.parse(readFileSync(new URL('../asyncapi.json', import.meta.url), 'utf8')) as {
  components: { messages: Record<string, Message> };
};

/** Checks `headers` against one transport's header schema; returns what is wrong. */
function mismatches(headers: Map<string, string>, schema: HeaderSchema): string[] {
  const wrong: string[] = [];
  for (const [name, value] of headers) {
    const declared = schema.properties[name];
    const byPattern = Object.keys(schema.patternProperties).some((p) => new RegExp(p).test(name));
    if (declared === undefined && !byPattern) wrong.push(`${name} is not declared`);
    if (declared?.const !== undefined && declared.const !== value)
      wrong.push(`${name} is ${value}, the document says ${declared.const}`);
  }
  for (const name of schema.required) if (!headers.has(name)) wrong.push(`${name} is required but missing`);
  return wrong;
}

const messageOf = (event: StoredEvent): Message => {
  const message = Object.values(document.components.messages).find((m) => m.name === event.type);
  assert.ok(message !== undefined, `the document has a message for ${event.type}`);
  return message;
};
const branch = (message: Message, transport: 'Kafka' | 'NATS'): HeaderSchema => {
  const schema = message.headers.oneOf.find((h) => h.title.startsWith(transport));
  assert.ok(schema !== undefined, `${message.name} declares its ${transport} headers`);
  return schema;
};

describe('the order system AsyncAPI document against the wire', { timeout: 60_000 }, () => {
  it('declares every header the Kafka and NATS bindings write for an event the orders service appended', async () => {
    using folder = tempFolder();
    const system = await openTestSystem(folder, { services: ['orders'] });
    try {
      await placeOrder(apiOf(system), { customerId: 'wire', items: [{ sku: 'WIDGET', quantity: 1 }] });
      const [placed] = await eventsOf(system.log, TOPICS.orders);
      assert.ok(placed !== undefined, 'OrderPlaced is in the log');
      // The extensions the system may add (a trace context) travel too.
      const event: StoredEvent = {
        ...placed,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'herald=1',
      };
      const message = messageOf(event);

      const record = encodeForKafka(event);
      const kafkaHeaders = new Map(
        [...record.headers].map(([name, value]) => [name.toString('latin1'), value.toString('utf8')]),
      );
      assert.deepEqual(mismatches(kafkaHeaders, branch(message, 'Kafka')), []);
      assert.ok(kafkaHeaders.has('ce_specversion') && !kafkaHeaders.has('specversion'));
      assert.equal(record.key?.toString('utf8'), event.partitionkey, 'the record key is the partitionkey');
      assert.equal(message.bindings.kafka.key.type, 'string');

      const nats = encodeForNats(event);
      const natsHeaders = new Map(nats.headers.keys().map((name) => [name, nats.headers.get(name)]));
      assert.deepEqual(mismatches(natsHeaders, branch(message, 'NATS')), []);
      assert.ok(natsHeaders.has('ce-specversion'));

      // Each transport's headers fit its own branch only: the oneOf picks exactly one.
      assert.notDeepEqual(mismatches(kafkaHeaders, branch(message, 'NATS')), []);
      assert.notDeepEqual(mismatches(natsHeaders, branch(message, 'Kafka')), []);
    } finally {
      await system.stop();
    }
  });
});
