// The order system's AsyncAPI document is committed (apps/orders/asyncapi.json) and must be the
// one its system description generates: change a topic, an event or a consumer group and this
// test asks for the document to be regenerated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { generateAsyncApi } from '@herald/schemas';
import { DEFAULT_PARTITIONS } from '@herald/orders-domain/topology.ts';
import orderSystemDescription from '../src/system-description.ts';

const COMMITTED = new URL('../asyncapi.json', import.meta.url);
const REGENERATE =
  'npm run herald -- asyncapi --system apps/orders/src/system-description.ts --output apps/orders/asyncapi.json && npx prettier --write apps/orders/asyncapi.json';

void describe('the order system AsyncAPI document', () => {
  void it('is the document the system description generates', () => {
    const committed = JSON.parse(readFileSync(COMMITTED, 'utf8')) as unknown;
    assert.deepEqual(
      committed,
      generateAsyncApi(orderSystemDescription),
      `apps/orders/asyncapi.json is stale; run: ${REGENERATE}`,
    );
  });

  void it('is valid against the AsyncAPI 3.0 specification and its Kafka bindings, without a warning', async () => {
    const diagnostics = await new Parser().validate(readFileSync(COMMITTED, 'utf8'));
    // 0 is an error, 1 a warning; 2 and 3 are hints (such as "a newer AsyncAPI version exists").
    const problems = diagnostics
      .filter((d) => (d.severity as number) <= 1)
      .map((d) => `${d.path.join('/')}: ${d.message}`);
    assert.deepEqual(problems, []);
  });

  void it('names the embedded, Kafka and NATS servers the system runs on', () => {
    const document = generateAsyncApi(orderSystemDescription) as {
      servers: Record<string, { protocol: string; host: string }>;
    };
    assert.deepEqual(
      Object.entries(document.servers).map(([name, s]) => [name, s.protocol]),
      [
        ['embedded', 'sqlite'],
        ['kafka', 'kafka'],
        ['nats', 'nats'],
      ],
    );
  });

  void it('binds each channel to its Kafka topic and partitions, and each consumer to its Kafka group', () => {
    const document = generateAsyncApi(orderSystemDescription) as {
      channels: Record<
        string,
        {
          address: string;
          bindings: { kafka: { topic: string; partitions: number } };
          'x-herald-nats': { subject: string };
        }
      >;
      operations: Record<string, { action: string; bindings?: { kafka: { groupId: { enum: string[] } } } }>;
    };
    for (const [name, channel] of Object.entries(document.channels)) {
      assert.equal(channel.bindings.kafka.topic, channel.address, name);
      assert.equal(channel.bindings.kafka.partitions, DEFAULT_PARTITIONS, name);
      assert.equal(channel['x-herald-nats'].subject, `herald.${channel.address}.{partition}`, name);
    }
    for (const consumer of orderSystemDescription.consumers) {
      for (const topic of consumer.topics) {
        const operation = document.operations[`${consumer.group}.consume.${topic}`];
        assert.deepEqual(operation?.bindings?.kafka.groupId.enum, [consumer.group]);
      }
    }
    const sends = Object.values(document.operations).filter((o) => o.action === 'send');
    assert.ok(
      sends.every((o) => o.bindings === undefined),
      'a producer joins no group',
    );
  });

  void it('has a channel per topic and an operation per publisher and per consumer group and topic', () => {
    const document = generateAsyncApi(orderSystemDescription) as {
      channels: Record<string, unknown>;
      operations: Record<string, { action: string }>;
    };
    assert.deepEqual(Object.keys(document.channels), [
      'deadlines',
      'fraud',
      'inventory',
      'loyalty',
      'notifications',
      'orders',
      'payments',
    ]);
    const sends = Object.entries(document.operations)
      .filter(([, o]) => o.action === 'send')
      .map(([id]) => id);
    assert.deepEqual(sends, [
      'fraud.publish.fraud',
      'inventory.publish.inventory',
      'loyalty.publish.loyalty',
      'notification.publish.notifications',
      'orders.publish.deadlines',
      'orders.publish.orders',
      'payment.publish.payments',
    ]);
    assert.equal(document.operations['fraud.checks.consume.orders']?.action, 'receive');
  });
});
