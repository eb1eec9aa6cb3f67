// The order system evolving one event, on a real SQLite file: OrderPlaced v2 splits the total
// into subtotal and shipping fee. v2 breaks BACKWARD compatibility (two required fields without a
// default), so the registry refuses it; an upcaster makes every stored v1 event readable as v2,
// which `checkStoredEvents` proves on the events actually stored before v2 is registered. Then a
// consumer on v2 and a consumer still on v1 read old and new events side by side.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Parser } from '@asyncapi/parser';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { z } from 'zod';
import { createProducer, createRouter, defineEvent, isHeraldError } from '@herald/core';
import type { EventDefinition, EventLog, Producer } from '@herald/core';
import {
  checkStoredEvents,
  createEventReader,
  defineSystem,
  defineUpcaster,
  definitionsOf,
  generateAsyncApi,
  openSchemaRegistry,
  registryGuard,
} from '@herald/schemas';
import type { SchemaRegistry, SystemDescription } from '@herald/schemas';
import { openSqliteLog } from '@herald/sqlite';
import { OrderPlaced, TOPICS } from '@herald/orders-domain/events.ts';
import type { OrderPlacedData } from '@herald/orders-domain/events.ts';
import orderSystemDescription from '../src/system-description.ts';
import { GROUPS, ensureTopics } from '@herald/orders-domain/topology.ts';

const SUBJECT = 'dev.herald.orders.order-placed';

type OrderPlacedV2Data = OrderPlacedData & { readonly subtotal: number; readonly shippingFee: number };

/** v2: v1's fields (whatever they become), plus the subtotal of the lines and the shipping fee. */
const OrderPlacedV2 = defineEvent({
  type: `${SUBJECT}.v2`,
  schema: extendV1({ subtotal: z.int().min(0), shippingFee: z.int().min(0) }),
});

function extendV1(shape: z.ZodRawShape): StandardSchemaV1<unknown, OrderPlacedV2Data> {
  const v1: unknown = OrderPlaced.schema;
  if (!(v1 instanceof z.ZodObject)) throw new Error('OrderPlaced.v1 is expected to be a z.object');
  return v1.extend(shape) as unknown as StandardSchemaV1<unknown, OrderPlacedV2Data>;
}

/** A v1 event had no shipping fee: its total is the sum of its lines. */
const orderPlacedV1ToV2 = defineUpcaster(OrderPlaced, OrderPlacedV2, (v1) => {
  const subtotal = v1.items.reduce((sum, line) => sum + line.lineTotal, 0);
  return { ...v1, subtotal, shippingFee: v1.total - subtotal };
});

/** The order system with the fraud service moved to v2. */
function withFraudOnV2(upcasters: SystemDescription['upcasters']): SystemDescription {
  return defineSystem({
    ...orderSystemDescription,
    producers: orderSystemDescription.producers.map((p) =>
      p.name === 'orders'
        ? { ...p, publishes: [{ topic: TOPICS.orders, events: [...p.publishes[0]!.events, OrderPlacedV2] }] }
        : p,
    ),
    consumers: orderSystemDescription.consumers.map((c) =>
      c.group === GROUPS.fraud ? { ...c, reads: [OrderPlacedV2] } : c,
    ),
    ...(upcasters === undefined ? {} : { upcasters }),
  });
}

function order(i: number): OrderPlacedData {
  return {
    orderId: `o-${i}`,
    customerId: `c-${i % 3}`,
    currency: 'EUR',
    items: [
      { sku: 'WIDGET', name: 'Widget', quantity: 2, unitPrice: 1000, lineTotal: 2000 },
      { sku: 'GADGET', name: 'Gadget', quantity: 1, unitPrice: 2500 + i, lineTotal: 2500 + i },
    ],
    total: 4500 + i,
    paymentToken: 'tok_visa',
    shippingCountry: i % 2 === 0 ? 'FR' : null,
    placedAt: new Date(Date.UTC(2026, 0, 1, 12, i)).toISOString(),
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

void describe('the order system evolving OrderPlaced to v2 (real SQLite file)', () => {
  let dir: string;
  let log: EventLog;
  let registry: SchemaRegistry;
  const guarded = (definitions: readonly EventDefinition[]): Producer =>
    createProducer({ log, source: '/orders', middleware: [registryGuard(registry, { definitions })] });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-evolution-'));
    log = await openSqliteLog({ path: join(dir, 'herald.db') });
    await ensureTopics(log, 2);
    registry = await openSchemaRegistry({ log });
    // The v1 deploy: every definition of the system registered, six orders placed.
    for (const definition of definitionsOf(orderSystemDescription)) await registry.register(definition);
    const producer = guarded([OrderPlaced]);
    for (let i = 0; i < 6; i++)
      await producer.publish(TOPICS.orders, OrderPlaced, order(i), { key: `o-${i}` });
  });

  after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('refuses v2 under BACKWARD with the reasons, and a producer cannot publish it', async () => {
    await assert.rejects(registry.register(OrderPlacedV2), (error: unknown) => {
      assert.ok(isHeraldError(error, 'CONFLICT'));
      assert.match(
        error.message,
        /#\/properties\/subtotal: required property "subtotal" added without a default/,
      );
      assert.match(
        error.message,
        /#\/properties\/shippingFee: required property "shippingFee" added without a default/,
      );
      return true;
    });
    await assert.rejects(
      guarded([OrderPlacedV2]).publish(TOPICS.orders, OrderPlacedV2, {
        ...order(99),
        subtotal: 4599,
        shippingFee: 0,
      }),
      /order-placed\.v2 is not registered/,
    );
  });

  void it('finds, on the stored events, that a v2 consumer needs the upcaster, and that with it every event reads', async () => {
    const without = await checkStoredEvents(log, withFraudOnV2([]));
    assert.equal(without.ok, false);
    const fraud = without.consumers.find((c) => c.group === GROUPS.fraud);
    assert.deepEqual([fraud?.checked, fraud?.failed], [6, 6]);
    assert.match(fraud?.failures[0]?.message ?? '', /subtotal/);

    const withUpcaster = await checkStoredEvents(log, withFraudOnV2([orderPlacedV1ToV2]));
    assert.equal(withUpcaster.ok, true);
    assert.deepEqual(
      withUpcaster.consumers.filter((c) => c.checked > 0).map((c) => c.failed),
      withUpcaster.consumers.filter((c) => c.checked > 0).map(() => 0),
    );
  });

  void it('registers v2 once the check passed, and restores BACKWARD for what follows', async () => {
    const result = await registry.register(OrderPlacedV2, { compatibility: 'NONE' });
    assert.equal(result.status, 'registered');
    await registry.setCompatibility(SUBJECT, 'BACKWARD');
    assert.deepEqual(
      [registry.subject(SUBJECT)?.compatibility, registry.subject(SUBJECT)?.versions.map((v) => v.version)],
      ['BACKWARD', [1, 2]],
    );
    const producer = guarded([OrderPlaced, OrderPlacedV2]);
    for (const i of [6, 7]) {
      const v1 = order(i);
      await producer.publish(
        TOPICS.orders,
        OrderPlacedV2,
        { ...v1, subtotal: v1.total - 490, shippingFee: 490 },
        { key: `o-${i}` },
      );
    }
  });

  void it('serves old and new events to a consumer on v2 and to one still on v1', async () => {
    const onV2 = new Map<string, OrderPlacedV2Data>();
    const onV1 = new Map<string, Record<string, unknown>>();
    const newRouter = createRouter({
      log,
      group: 'fraud.checks-v2',
      topics: [TOPICS.orders],
      decoder: createEventReader({ upcasters: [orderPlacedV1ToV2] }),
    });
    newRouter.on(OrderPlacedV2, (data) => {
      onV2.set(data.orderId, data);
    });
    const oldRouter = createRouter({
      log,
      group: 'fraud.checks-v1',
      topics: [TOPICS.orders],
      decoder: createEventReader(),
    });
    oldRouter.on(OrderPlaced, (data) => {
      onV1.set(data.orderId, data);
    });
    const running = [newRouter.run(), oldRouter.run()];
    try {
      await until(() => onV2.size === 8 && onV1.size === 8, 'both consumers to read the 8 orders');
    } finally {
      await newRouter.stop();
      await oldRouter.stop();
      await Promise.all(running);
    }
    // Stored as v1, read as v2 through the upcaster.
    assert.deepEqual(onV2.get('o-3'), { ...order(3), subtotal: 4503, shippingFee: 0 });
    // Stored as v2.
    assert.deepEqual([onV2.get('o-7')?.subtotal, onV2.get('o-7')?.shippingFee], [4507 - 490, 490]);
    // The v1 consumer reads v2 events with its v1 schema: the new fields are dropped.
    assert.deepEqual(onV1.get('o-7'), order(7));
    assert.deepEqual(onV1.get('o-2'), order(2));
  });

  void it('passes the stored-events check on the mixed log, and documents the evolved system', async () => {
    const evolved = withFraudOnV2([orderPlacedV1ToV2]);
    const report = await checkStoredEvents(log, evolved);
    assert.equal(report.ok, true, JSON.stringify(report.consumers.filter((c) => c.failed > 0)));
    assert.equal(report.consumers.find((c) => c.group === GROUPS.fraud)?.decoded, 8);
    const diagnostics = await new Parser().validate(JSON.stringify(generateAsyncApi(evolved)));
    assert.deepEqual(
      diagnostics.filter((d) => (d.severity as number) === 0).map((d) => d.message),
      [],
    );
  });
});
