// The order system on Kafka with a Postgres store per service, each service its own process
// (service-main.ts), as an operator runs it. Orders are placed over HTTP at a steady pace while
// the payment process is killed with SIGKILL and started again (F3) and the Kafka broker is
// restarted (F13). Then every accepted order must have reached one final state: one charge per
// confirmed order, one message per order, stock that adds up, nothing left in an outbox, and
// every OrderPlaced in the log. The relays (the producers here) must have seen retriable errors
// while the broker was away, and the API must have kept accepting orders: a 202 needs Postgres
// only.
//
// The broker is the test's own (scripts/kafka/kafka.sh in a temporary folder, on free ports):
// restarting the shared one would break the Kafka suites running next to this one. Postgres is
// HERALD_TEST_POSTGRES, in schemas of a fresh prefix dropped at the end. Without Postgres, or
// when no broker can be started, the test fails in CI (CI=true) and is skipped elsewhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EventLog, type StoredEvent, openEventLog } from '@herald/core';
import { type PostgresStore, openPostgresStore } from '@herald/postgres';
import pg from 'pg';
import type { StockLevel } from '@herald/orders-domain/inventory.ts';
import { type OrderView, isFinal, isSettled } from '@herald/orders-domain/order-view.ts';
import type { GatewayEntry } from '@herald/orders-domain/payment.ts';
import { TOPICS, eventIdOf } from '@herald/orders-domain/events.ts';
import type { MailboxMessage } from '@herald/orders-domain/simulated-mailbox.ts';
import { schemaOf } from '@herald/service';
import { COLLECTIONS, GROUPS, type ServiceName } from '@herald/orders-domain/topology.ts';
import {
  ADMIN_TOKEN,
  type OrderBody,
  TEST_CATALOG,
  deadLetters,
  eventsOf,
  eventually,
  tempFolder,
} from './fixtures/order-system.ts';
import { type PrivateKafka, startPrivateKafka } from '../../../scripts/kafka/private-kafka.ts';
import { type ServiceProcess, startServiceProcess } from './fixtures/service-process.ts';
import {
  TEST_POSTGRES,
  dropSchemas,
  postgresUnavailable,
  testStoreUrl,
  unavailable,
  uniqueSchemaPrefix,
} from './fixtures/test-postgres.ts';

const SERVICES: readonly ServiceName[] = ['orders', 'inventory', 'payment', 'fraud', 'notification'];
/** Kafka's floor (group.min.session.timeout.ms): a killed member's partitions move after this. */
const SESSION_TIMEOUT_MS = 6000;
/** Longer than the test: no order is timed out by its decision deadline. */
const DECISION_TIMEOUT_MS = 3_600_000;
/** One order every this many ms while the test places them. */
const PACE_MS = 150;
/** A relay's report of a failure it retries; the codes of a log that is away for a while. */
const RETRIABLE_RELAY_ERROR = /outbox relay \(schema \w+\) retrying: (BACKEND_UNAVAILABLE|TIMEOUT):/;

/** A mix of outcomes: mostly confirmed, some declined by the card, some stopped by fraud. */
function orderBody(i: number): OrderBody {
  const body: OrderBody = { customerId: `c${i}`, items: [{ sku: 'WIDGET', quantity: 1 + (i % 3) }] };
  if (i % 7 === 3) body.paymentToken = 'tok_decline';
  if (i % 11 === 5) body.shippingCountry = 'KP';
  return body;
}

const expectConfirmed = (body: OrderBody) =>
  body.paymentToken === undefined && body.shippingCountry === undefined;

/** Places orders one after another at a steady pace until stopped; keeps every answer. */
class OrderFeed {
  readonly accepted: { orderId: string; consistencyToken: string; body: OrderBody }[] = [];
  readonly refused: string[] = [];
  readonly #base: string;
  #next = 0;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(base: string) {
    this.#base = base;
  }

  start(): void {
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const started = performance.now();
      const body = orderBody(this.#next++);
      try {
        const response = await fetch(`${this.#base}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (response.status === 202) {
          const { orderId, consistencyToken } = JSON.parse(text) as {
            orderId: string;
            consistencyToken: string;
          };
          this.accepted.push({ orderId, consistencyToken, body });
        } else {
          this.refused.push(`${response.status} ${text.slice(0, 200)}`);
        }
      } catch (error) {
        this.refused.push(`no answer: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(Math.max(0, PACE_MS - (performance.now() - started)));
    }
  }
}

async function getView(base: string, orderId: string, query = ''): Promise<OrderView> {
  const response = await fetch(`${base}/orders/${orderId}${query}`, { signal: AbortSignal.timeout(40_000) });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as OrderView;
}

async function countWhere(base: string, orderIds: readonly string[], test: (view: OrderView) => boolean) {
  let n = 0;
  for (const orderId of orderIds) if (test(await getView(base, orderId))) n++;
  return n;
}

/** Groups (members, lag per partition) and outbox backlogs, for a failure's diagnostics. */
async function describeState(
  t: { diagnostic(message: string): void },
  kafkaUrl: string,
  pool: pg.Pool,
  prefix: string,
): Promise<void> {
  const log = await openEventLog(kafkaUrl);
  try {
    for (const group of Object.values(GROUPS)) {
      const d = await log.describeGroup(group).catch(() => undefined);
      if (d === undefined) continue;
      const lag = d.partitions
        .filter((p) => p.lag > 0)
        .map((p) => `${p.topic}/${p.partition}: ${p.committed ?? '-'} lag ${p.lag}`);
      t.diagnostic(
        `${group}: ${d.members.length} members (${d.members.map((m) => m.partitions.length).join(', ')} partitions); ${lag.join('; ') || 'no lag'}`,
      );
    }
  } finally {
    await log.close();
  }
  for (const service of SERVICES) {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${schemaOf(prefix, service)}".herald_outbox`,
    );
    t.diagnostic(`${service} outbox: ${rows[0]?.n}`);
  }
}

describe('the order system on Kafka with a Postgres store per service', { timeout: 240_000 }, () => {
  it('brings every accepted order to one final state across a SIGKILLed service and a broker restart', async (t) => {
    const postgresReason = await postgresUnavailable();
    if (postgresReason !== undefined) return unavailable(t, postgresReason);
    let broker: PrivateKafka;
    try {
      broker = await startPrivateKafka();
    } catch (error) {
      return unavailable(
        t,
        `cannot start a Kafka broker of the test's own: ${error instanceof Error ? error.message : String(error)}`,
      );
    }

    using folder = tempFolder();
    const prefix = uniqueSchemaPrefix();
    const namespace = `${prefix.replace(/_$/, '')}-`;
    const kafkaUrl = `kafka://${broker.bootstrap.join(',')}?namespace=${namespace}`;
    const env = {
      HERALD_LOG: kafkaUrl,
      HERALD_STORE: testStoreUrl(prefix),
      HERALD_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      // Each order's outcome here follows from its request, however long the faults delay it:
      // no decision timeout within the test (saga-timeout.int.test.ts covers timeouts).
      HERALD_DECISION_TIMEOUT_MS: String(DECISION_TIMEOUT_MS),
      HERALD_PARTITIONS: '3',
      HERALD_RATE_LIMIT: '0',
      HERALD_ADMIN_TOKEN: ADMIN_TOKEN,
      PORT: '0',
    };
    const pool = new pg.Pool({ connectionString: TEST_POSTGRES, max: 4 });
    pool.on('error', () => undefined);
    const processes = new Map<ServiceName, ServiceProcess>();
    const exited: ServiceProcess[] = [];
    const start = async (service: ServiceName) => {
      const child = startServiceProcess(folder, [service], env);
      processes.set(service, child);
      await child.waitForLine(new RegExp(`^ready: ${service} on `), 90_000);
      return child;
    };
    let log: EventLog | undefined;
    let stopFeed: (() => Promise<void>) | undefined;
    const stores: PostgresStore[] = [];
    /** A service's schema, read by the test (its own store on the pool). */
    const storeOf = async (service: ServiceName) => {
      const store = await openPostgresStore({ pool, schema: schemaOf(prefix, service) });
      stores.push(store);
      return store;
    };
    try {
      await Promise.all(SERVICES.map(start));
      const apiLine = processes.get('orders')!.lines.find((l) => l.startsWith('orders API on '))!;
      const base = apiLine.slice('orders API on '.length);
      const feed = new OrderFeed(base);
      stopFeed = () => feed.stop();
      const ids = () => feed.accepted.map((a) => a.orderId);
      feed.start();

      // 1. The flow runs, then payment is killed in the middle of it and started again.
      await eventually(
        'orders to reach a final state',
        async () => ((await countWhere(base, ids(), isFinal)) >= 5 ? true : undefined),
        60_000,
      );
      const payment = processes.get('payment')!;
      payment.child.kill('SIGKILL');
      assert.equal((await payment.exited).signal, 'SIGKILL');
      exited.push(payment);
      const inFlightAtKill = ids().length - (await countWhere(base, ids(), isFinal));
      t.diagnostic(`payment killed with ${inFlightAtKill} of ${ids().length} accepted orders not final`);
      await sleep(2000);
      await start('payment');
      const restartedAt = ids().length;
      await eventually(
        'orders placed after the payment restart to reach a final state',
        async () => ((await countWhere(base, ids().slice(restartedAt), isFinal)) >= 3 ? true : undefined),
        60_000,
      );

      // 2. The broker restarts under load; orders keep being accepted meanwhile.
      const beforeRestart = ids().length;
      const restartMs = await broker.restart(1);
      const duringRestart = ids().length - beforeRestart;
      t.diagnostic(
        `broker restarted in ${Math.round(restartMs)} ms; ${duringRestart} orders accepted meanwhile`,
      );
      assert.ok(duringRestart > 0, 'the API accepted orders while the broker was away');
      // Their tokens name OrderPlaced by id (it had no position yet); a read that waits for one
      // answers once the view has applied that event.
      const orders = await storeOf('orders');
      for (const { orderId, consistencyToken } of feed.accepted.slice(beforeRestart, beforeRestart + 5)) {
        assert.equal(consistencyToken, `event:${eventIdOf(orderId, 'order-placed')}`);
        const view = await getView(
          base,
          orderId,
          `?consistentWith=${encodeURIComponent(consistencyToken)}&wait=30`,
        );
        assert.equal(view.orderId, orderId);
        const applied = await orders.inboxStatus(GROUPS.ordersView, eventIdOf(orderId, 'order-placed'), '');
        assert.notEqual(applied, 'unseen', `the view had applied OrderPlaced of ${orderId} when it answered`);
      }
      await sleep(4000);
      await feed.stop();

      // 3. Every accepted order settles.
      assert.deepEqual(feed.refused, [], 'every order was accepted: a 202 needs Postgres, not the broker');
      assert.ok(feed.accepted.length >= 40, `enough orders placed (${feed.accepted.length})`);
      const views = new Map<string, OrderView>();
      let unsettled: OrderView | undefined;
      await eventually(
        'every accepted order to settle',
        async () => {
          for (const { orderId } of feed.accepted) {
            if (views.has(orderId)) continue;
            const view = await getView(base, orderId);
            if (!isSettled(view)) {
              unsettled = view;
              return undefined;
            }
            views.set(orderId, view);
          }
          return true;
        },
        120_000,
      ).catch((error: unknown) => {
        throw new Error(
          `${views.size} of ${feed.accepted.length} settled; waiting for ${JSON.stringify(unsettled)}`,
          { cause: error },
        );
      });

      // 4. What the services did, read from their schemas and from the log.
      const gateway = new Map(
        (await (await storeOf('payment')).list<GatewayEntry>(COLLECTIONS.gateway)).map((r) => [
          r.id,
          r.value,
        ]),
      );
      const mailbox = (await (await storeOf('notification')).list<MailboxMessage>(COLLECTIONS.mailbox)).map(
        (r) => r.value,
      );
      log = await openEventLog(kafkaUrl);
      const placed = new Set((await eventsOf(log, TOPICS.orders)).map((e) => e.id));
      let widgetsSold = 0;
      for (const { orderId, body } of feed.accepted) {
        const view = views.get(orderId)!;
        assert.equal(
          view.status,
          expectConfirmed(body) ? 'confirmed' : 'rejected',
          `the outcome of ${orderId}`,
        );
        assert.ok(placed.has(eventIdOf(orderId, 'order-placed')), `OrderPlaced of ${orderId} is in the log`);
        const entry = gateway.get(orderId);
        assert.ok(entry !== undefined, `the gateway saw ${orderId}`);
        if (view.status === 'confirmed') {
          assert.ok(entry.captured && !entry.voided, `${orderId} charged once, not voided`);
          widgetsSold += body.items[0]!.quantity;
        } else {
          assert.ok(!entry.captured, `rejected ${orderId} was not charged`);
          assert.equal(entry.voided, entry.authorization.status === 'authorized');
        }
        assert.equal(mailbox.filter((m) => m.orderId === orderId).length, 1, `one message about ${orderId}`);
      }
      const accepted = new Set(ids());
      assert.equal(gateway.size, accepted.size, 'the gateway saw no order that was not accepted');
      assert.equal(mailbox.length, accepted.size, 'no message about an order that was not accepted');
      const widget = (await (await storeOf('inventory')).get<StockLevel>(COLLECTIONS.stock, 'WIDGET'))!;
      const initial = TEST_CATALOG.find((i) => i.sku === 'WIDGET')!.initialStock;
      assert.deepEqual(widget, { sku: 'WIDGET', available: initial - widgetsSold, reserved: 0 });

      // One decision per order in the log. A relay killed between the broker's ack and its
      // DELETE publishes again (at-least-once): a copy has the same id and the same payload,
      // and the consumers' inboxes gave it no second effect (checked above).
      let copies = 0;
      for (const topic of [
        TOPICS.orders,
        TOPICS.inventory,
        TOPICS.payments,
        TOPICS.fraud,
        TOPICS.notifications,
      ]) {
        const byId = new Map<string, StoredEvent>();
        for (const event of await eventsOf(log, topic)) {
          const first = byId.get(event.id);
          if (first === undefined) {
            byId.set(event.id, event);
            continue;
          }
          copies++;
          assert.equal(event.type, first.type, `copies of ${event.id} have one type`);
          assert.deepEqual(event.data, first.data, `copies of ${event.id} carry one payload`);
        }
        if (topic === TOPICS.orders) {
          for (const orderId of accepted) {
            const decisions = ['order-confirmed', 'order-rejected'].filter((name) =>
              byId.has(eventIdOf(orderId, name)),
            );
            assert.equal(decisions.length, 1, `one decision about ${orderId}: ${decisions.join(', ')}`);
          }
        }
      }
      t.diagnostic(`${feed.accepted.length} orders; ${copies} events published twice by a relay`);
      assert.deepEqual(await deadLetters(log), [], 'no event was parked in a dead-letter topic');

      // Everything committed was published, and the producers saw the broker go away.
      for (const service of SERVICES) {
        assert.equal(await (await storeOf(service)).outboxBacklog(), 0, `${service}'s outbox is empty`);
      }
      const output = [...exited, ...processes.values()].flatMap((p) => p.lines);
      const retried = output.filter((l) => RETRIABLE_RELAY_ERROR.test(l));
      t.diagnostic(`${retried.length} retriable relay errors while the broker was away`);
      assert.ok(retried.length > 0, 'the relays saw retriable errors while the broker restarted');
    } catch (error) {
      // Why the flow stopped: what each process said last, where each group is, what waits in the outboxes.
      for (const [service, p] of processes) t.diagnostic(`${service}:\n${p.lines.slice(-25).join('\n')}`);
      await describeState(t, kafkaUrl, pool, prefix).catch((e: unknown) =>
        t.diagnostic(`no state: ${String(e)}`),
      );
      throw error;
    } finally {
      await stopFeed?.();
      await Promise.all(
        [...processes.values()].map(async (p) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return;
          p.child.kill('SIGTERM');
          // A graceful stop publishes what the outbox holds for at most 5 s; one that hangs is killed.
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
          await p.exited;
          clearTimeout(timer);
        }),
      );
      await log?.close().catch(() => undefined);
      for (const store of stores) await store.close();
      try {
        // Every service's, also those the API process only read (loyalty, analytics).
        await dropSchemas(pool, prefix);
      } finally {
        await pool.end();
        await broker.stop();
      }
    }
  });
});
