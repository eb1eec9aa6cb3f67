// Graduation, end to end: the order system runs on the embedded log, some of its services stop
// while orders keep coming (so they stop mid-flow, their work waiting in the log), the system is
// moved with `herald migrate --to kafka://… --state-to postgres://…`, and restarted on Kafka with
// a Postgres store per service. It must resume where it stopped: every order settles once, each
// group starts at the position it had (nothing handled twice, nothing skipped), and the guarantee
// auditor finds every event up to each group's committed offset handled exactly once.
//
// The broker is HERALD_TEST_KAFKA (topics in a namespace of the test's own), Postgres is
// HERALD_TEST_POSTGRES (schemas of a fresh prefix, dropped at the end); without either the test
// fails in CI (CI=true) and is skipped elsewhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { type EventLog, type StateRecord, openEventLog } from '@herald/core';
import { auditGroup } from '@herald/core/ops';
import { openPostgresStore } from '@herald/postgres';
import { openSqliteLog, openSqliteStore } from '@herald/sqlite';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import type { OrderView } from '@herald/orders-domain/order-view.ts';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import type { MailboxMessage } from '@herald/orders-domain/simulated-mailbox.ts';
import { COLLECTIONS, GROUPS, type ServiceName } from '@herald/orders-domain/topology.ts';
import { schemaOf } from '@herald/service';
import {
  type OrderBody,
  TEST_CATALOG,
  apiOf,
  caughtUp,
  deadLetters,
  openTestSystem,
  placeOrder,
  settled,
  tempFolder,
} from './fixtures/order-system.ts';
import { postgresUnavailable, testSchemas, unavailable } from './fixtures/test-postgres.ts';

const KAFKA = process.env['HERALD_TEST_KAFKA'] ?? '127.0.0.1:19092';
const HERALD = fileURLToPath(new URL('../../../packages/cli/bin/herald.js', import.meta.url));
/** Kafka's floor (group.min.session.timeout.ms). */
const SESSION_TIMEOUT_MS = 6000;
const DECISION_TIMEOUT_MS = 3_600_000;
/** Who owns the order system's collections that are not named after their service. */
export const ORDER_SYSTEM_OWNERS = [
  'external.payment-gateway=payment',
  'external.mailbox=notification',
  'system.seeded/orders=orders',
  'system.seeded/inventory=inventory',
  'lab=faults',
  // The order saga's decision deadlines: the only timers of the order system.
  'herald.timers=orders',
  'herald.timer-ids=orders',
  'herald.timers-failed=orders',
];
/** Services that stop before the second batch of orders: their groups stop mid-flow. */
const STOPPED: readonly ServiceName[] = ['payment', 'notification', 'loyalty', 'analytics'];

function orderBody(i: number): OrderBody {
  const body: OrderBody = { customerId: `c${i % 4}`, items: [{ sku: 'WIDGET', quantity: 1 + (i % 2) }] };
  if (i % 5 === 2) body.paymentToken = 'tok_decline';
  return body;
}

async function herald(args: readonly string[]): Promise<{ status: number | null; output: string }> {
  const child = spawn(process.execPath, [HERALD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, output };
}

/** Every group's committed offsets, `topic/partition` → offset (partitions never committed on: none). */
async function positions(log: EventLog, groups: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const group of groups) {
    for (const p of (await log.describeGroup(group)).partitions) {
      if (p.committed !== null) found.set(`${group} ${p.topic}/${p.partition}`, p.committed);
    }
  }
  return found;
}

describe('graduating the order system from the embedded log to Kafka', { timeout: 300_000 }, () => {
  it('resumes on Kafka with Postgres stores where it stopped: every order settles once, nothing handled twice or skipped', async (t) => {
    const postgresReason = await postgresUnavailable();
    if (postgresReason !== undefined) return unavailable(t, postgresReason);
    using folder = tempFolder();
    await using schemas = testSchemas();
    const { prefix, pool, storeUrl } = schemas;
    const kafkaUrl = `kafka://${KAFKA}?namespace=${prefix.replace(/_$/, '')}.`;
    try {
      await using probe = await openEventLog(kafkaUrl);
      await probe.listTopics();
    } catch (error) {
      return unavailable(
        t,
        `no Kafka at HERALD_TEST_KAFKA: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const groups = Object.values(GROUPS);
    const accepted: { orderId: string; body: OrderBody }[] = [];
    // 1. On the embedded log, with every service: the first orders settle.
    // Orders wait in the log across the move: no decision deadline may reject them meanwhile.
    let system = await openTestSystem(folder, { partitions: 3, decisionTimeoutMs: DECISION_TIMEOUT_MS });
    for (let i = 0; i < 8; i++) {
      const body = orderBody(i);
      accepted.push({ orderId: (await placeOrder(apiOf(system), body)).orderId, body });
    }
    for (const { orderId } of accepted) await settled(apiOf(system), orderId, 60_000);
    await system.stop();

    // 2. Payment, notification, loyalty and analytics stop; orders keep coming and wait in the log.
    system = await openTestSystem(folder, {
      services: ['orders', 'inventory', 'fraud'],
      decisionTimeoutMs: DECISION_TIMEOUT_MS,
    });
    for (let i = 8; i < 16; i++) {
      const body = orderBody(i);
      accepted.push({ orderId: (await placeOrder(apiOf(system), body)).orderId, body });
    }
    await caughtUp(system.log, [GROUPS.inventory, GROUPS.fraud]);
    await system.stop();

    // What the embedded log holds now: each group's position and its inbox.
    const before = await (async () => {
      await using log = await openSqliteLog({ path: folder.dbPath, retentionIntervalMs: 0 });
      const store = await openSqliteStore(log);
      const inbox = new Map<string, Set<string>>();
      for await (const page of store.exportState()) {
        for (const record of page.filter(
          (r): r is Extract<StateRecord, { kind: 'inbox' }> => r.kind === 'inbox',
        )) {
          if (!inbox.has(record.group)) inbox.set(record.group, new Set());
          inbox.get(record.group)!.add(record.eventId);
        }
      }
      await store.close();
      return { positions: await positions(log, groups), inbox };
    })();
    const waiting = [...before.positions].filter(([key]) => STOPPED.some((s) => key.startsWith(`${s}.`)));
    assert.ok(waiting.length > 0, 'the stopped services have positions to resume from');

    // 3. Graduate: the log to Kafka, the state to one Postgres schema per service.
    const migrated = await herald([
      'migrate',
      '--from',
      folder.logUrl,
      '--to',
      kafkaUrl,
      '--state-to',
      storeUrl,
      ...ORDER_SYSTEM_OWNERS.flatMap((rule) => ['--owner', rule]),
    ]);
    assert.equal(migrated.status, 0, migrated.output);
    assert.match(migrated.output, /migrated and verified/);
    assert.match(migrated.output, /state migrated and verified/);
    {
      await using kafka = await openEventLog(kafkaUrl);
      assert.deepEqual(
        await positions(kafka, groups),
        before.positions,
        'every group starts where it stopped',
      );
    }

    // 4. On Kafka with Postgres stores, every service: the orders in flight settle.
    system = await openTestSystem(folder, {
      logUrl: kafkaUrl,
      storeUrl,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      decisionTimeoutMs: DECISION_TIMEOUT_MS,
    });
    const views = new Map<string, OrderView>();
    for (const { orderId } of accepted) views.set(orderId, await settled(apiOf(system), orderId, 120_000));
    await caughtUp(system.log, groups, 120_000);
    await system.stop();

    // 5. What the services did, read from their schemas and from Kafka.
    const storeOf = (service: ServiceName) => openPostgresStore({ pool, schema: schemaOf(prefix, service) });
    const payment = await storeOf('payment');
    const notification = await storeOf('notification');
    const inventory = await storeOf('inventory');
    const gateway = new Map(
      (await payment.list<GatewayEntry>(COLLECTIONS.gateway)).map((r) => [r.id, r.value]),
    );
    const loyalty = await storeOf('loyalty');
    // The simulated mail provider's ledger: in one collection on the embedded log, moved to
    // notification's schema; on Postgres each sender (notification, loyalty) writes its own.
    const mailbox = [
      ...(await notification.list<MailboxMessage>(COLLECTIONS.mailbox)),
      ...(await loyalty.list<MailboxMessage>(COLLECTIONS.mailbox)),
    ].map((r) => r.value);
    let widgetsSold = 0;
    for (const { orderId, body } of accepted) {
      const view = views.get(orderId)!;
      assert.equal(view.status, body.paymentToken === 'tok_decline' ? 'rejected' : 'confirmed', orderId);
      const entry = gateway.get(orderId);
      assert.ok(entry !== undefined, `the gateway saw ${orderId}`);
      if (view.status === 'confirmed') {
        assert.ok(entry.captured && !entry.voided, `${orderId} charged once, not voided`);
        widgetsSold += body.items[0]!.quantity;
      }
      const messages = mailbox.filter((m) => m.orderId === orderId).map((m) => m.kind);
      assert.deepEqual(
        messages.sort(),
        view.status === 'confirmed' ? ['order-confirmed', 'points-awarded'] : ['order-rejected'],
        `one message of each kind about ${orderId}`,
      );
    }
    const widget = (await inventory.get<StockLevel>(COLLECTIONS.stock, 'WIDGET'))!;
    const initial = TEST_CATALOG.find((i) => i.sku === 'WIDGET')!.initialStock;
    assert.deepEqual(widget, { sku: 'WIDGET', available: initial - widgetsSold, reserved: 0 });

    await using kafka = await openEventLog(kafkaUrl);
    assert.deepEqual(await deadLetters(kafka), [], 'nothing dead-lettered');
    for (const group of groups) {
      const service = group.slice(0, group.indexOf('.')) as ServiceName;
      const store = await storeOf(service);
      const report = await auditGroup(kafka, store, group);
      assert.equal(report.verdict, 'ok', `${group}: ${JSON.stringify(report.firstViolations)}`);
      // Every event the group handled on the embedded log is still known, once.
      const known = before.inbox.get(group) ?? new Set<string>();
      const entries = await store.inboxEntries(group, [...known]);
      assert.ok(
        entries.every((e) => e !== undefined),
        `${group} kept its inbox`,
      );
      t.diagnostic(`${group}: ${known.size} handled on the embedded log, ${report.handled} in all`);
      await store.close();
    }
    for (const store of [payment, notification, loyalty, inventory]) await store.close();
  });
});
