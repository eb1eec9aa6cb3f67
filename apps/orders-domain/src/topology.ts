// Where everything lives: topics, consumer groups and store collections, each owned by one
// service. A consumer group's name is its position in the log: renaming one makes a new group
// that reads its topics again from the beginning (with declared effects suppressed while it
// backfills), so rename on purpose only.
import { type EventLog, ensureTopic } from '@herald/core';
import { TOPICS } from './events.ts';

/** Partitions of each topic when the system creates them (existing topics keep theirs). */
export const DEFAULT_PARTITIONS = 4;

/** Consumer groups, `<service>.<purpose>`. */
export const GROUPS = {
  ordersSaga: 'orders.saga',
  ordersView: 'orders.view',
  inventory: 'inventory.reservations',
  payment: 'payment.authorizations',
  fraud: 'fraud.checks',
  notification: 'notification.mailer',
  loyalty: 'loyalty.points',
  analytics: 'analytics.views',
} as const;

/** Store collections, prefixed by their owner. `external.*` stand for systems outside the shop. */
export const COLLECTIONS = {
  orders: 'orders.orders',
  catalog: 'orders.catalog',
  orderViews: 'orders.views',
  sagas: 'orders.sagas',
  idempotencyKeys: 'orders.idempotency-keys',
  stock: 'inventory.stock',
  reservations: 'inventory.reservations',
  authorizations: 'payment.authorizations',
  fraudHistory: 'fraud.customers',
  notificationsSent: 'notification.sent',
  loyaltyAccounts: 'loyalty.accounts',
  funnel: 'analytics.funnel',
  revenue: 'analytics.revenue',
  faults: 'lab.faults',
  seeded: 'system.seeded',
  /** The simulated payment gateway's own ledger. */
  gateway: 'external.payment-gateway',
  /** The simulated mail provider: every message it accepted. */
  mailbox: 'external.mailbox',
} as const;

/** The downstream services, which take faults; `orders` is the API and the saga. */
export const DOWNSTREAM_SERVICES = [
  'inventory',
  'payment',
  'fraud',
  'notification',
  'loyalty',
  'analytics',
] as const;

export type DownstreamService = (typeof DOWNSTREAM_SERVICES)[number];

/** Every service, as `service-main.ts` names them. */
export const SERVICES = ['orders', ...DOWNSTREAM_SERVICES] as const;

export type ServiceName = (typeof SERVICES)[number];

/** Whether `value` names a service. */
export function isServiceName(value: string): value is ServiceName {
  return (SERVICES as readonly string[]).includes(value);
}

/**
 * Creates every topic of the flow that does not exist yet, with `partitions`; topics that exist
 * keep their partition count (a restart with another `HERALD_PARTITIONS` changes nothing). Safe
 * to run from several processes at once: a topic another process created in between is there.
 */
export async function ensureTopics(log: EventLog, partitions = DEFAULT_PARTITIONS): Promise<void> {
  const existing = new Set((await log.listTopics()).map((t) => t.name));
  for (const topic of Object.values(TOPICS)) {
    if (!existing.has(topic)) await ensureTopic(log, topic, { partitions });
  }
}
