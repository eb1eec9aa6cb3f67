// What the console's tests run against: users of each role, and dead letters parked by a real
// router (deadLetter + retry + idempotency) on whichever log and store the test opened.
import { randomUUID } from 'node:crypto';
import { createRouter, deadLetter, idempotency, retry } from '@herald/core';
import type { CloudEvent, EventLog, Store } from '@herald/core';
import { waitFor } from '@herald/testing';
import { UserDirectory, hashPassword } from '../src/index.ts';

export const PASSWORDS = {
  admin: 'admin-password-1',
  operator: 'operator-password-1',
  viewer: 'viewer-password-1',
} as const;

let hashes: Promise<Record<keyof typeof PASSWORDS, string>> | undefined;

/** A new directory with `admin`, `operator` and `viewer`, each of that role (hashed once per process). */
export async function testUsers(): Promise<UserDirectory> {
  hashes ??= (async () => ({
    admin: await hashPassword(PASSWORDS.admin),
    operator: await hashPassword(PASSWORDS.operator),
    viewer: await hashPassword(PASSWORDS.viewer),
  }))();
  const hash = await hashes;
  return new UserDirectory([
    { name: 'admin', role: 'admin', hash: hash.admin },
    { name: 'operator', role: 'operator', hash: hash.operator },
    { name: 'viewer', role: 'viewer', hash: hash.viewer },
  ]);
}

export const TYPE = 'dev.herald.orders.order-placed.v1';
const encoder = new TextEncoder();

/** Unique names per test run: brokers are shared. */
export function names(prefix: string): { topic: string; deadLetters: string; group: string } {
  const suffix = randomUUID().slice(0, 8);
  const topic = `${prefix}-orders-${suffix}`;
  return { topic, deadLetters: `${topic}.dead-letter`, group: `${prefix}-billing-${suffix}.invoices` };
}

/** An order placed by the checkout, and the event its handling emitted (same correlation). */
export function orderEvents(n: number): { placed: CloudEvent; confirmed: CloudEvent } {
  const placed: CloudEvent = {
    specversion: '1.0',
    id: `order-${n}-${randomUUID().slice(0, 8)}`,
    source: '/checkout',
    type: TYPE,
    partitionkey: `customer-${n}`,
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ order: n, note: `café ${n}` })),
    extensions: { tenant: 'acme' },
  };
  const confirmed: CloudEvent = {
    specversion: '1.0',
    id: `confirmed-${placed.id}`,
    source: '/orders',
    type: 'dev.herald.orders.order-confirmed.v1',
    partitionkey: placed.partitionkey!,
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ order: n })),
    extensions: { tenant: 'acme', correlationid: placed.id, causationid: placed.id },
  };
  return { placed, confirmed };
}

/**
 * Creates `topic` (2 partitions), appends two orders and one confirmation, and parks both orders
 * in `<topic>.dead-letter` through a router of `group` whose handler rejects them. Returns the
 * orders appended.
 */
export async function parkPoison(
  log: EventLog,
  store: Store | undefined,
  names: { topic: string; deadLetters: string; group: string },
): Promise<CloudEvent[]> {
  await log.createTopic(names.topic, { partitions: 2 });
  const one = orderEvents(1);
  const two = orderEvents(2);
  await log.append(names.topic, one.placed);
  await log.append(names.topic, two.placed);
  await log.append(names.topic, one.confirmed);
  const router = createRouter({
    log,
    group: names.group,
    topics: [names.topic],
    ...(store === undefined ? {} : { store }),
    middleware: [
      deadLetter(),
      retry({ maxAttempts: 2, initialDelayMs: 5 }),
      ...(store === undefined ? [] : [idempotency({ store })]),
    ],
  });
  router.on(TYPE, async (event) => {
    throw new Error(`the tax service rejects ${event.id}`);
  });
  router.on('dev.herald.orders.order-confirmed.v1', async () => undefined);
  const run = router.run();
  await waitFor(
    async () => {
      if (!(await log.listTopics()).some((t) => t.name === names.deadLetters)) return false;
      const d = await log.describeTopic(names.deadLetters);
      const parked = d.partitionInfo.reduce((sum, p) => sum + p.latest - p.earliest, 0);
      const group = await log.describeGroup(names.group);
      return parked === 2 && group.partitions.reduce((sum, p) => sum + p.lag, 0) === 0;
    },
    60_000,
    'two dead letters and the group caught up',
  );
  await router.stop();
  await run;
  return [one.placed, two.placed];
}
