// A workload for the guarantee auditor's tests on real stores: a real router with deadLetter,
// retry and idempotency handles keyed events through retries, two poison events it
// dead-letters (each parking its key's later events), one of them redriven and then handled
// (releasing its key), and a re-published duplicate. Afterwards the group's
// committed offsets are at the end of every partition and `auditGroup` must find no violation.
import { createRouter, deadLetter, idempotency, retry } from '@herald/core';
import type { CloudEvent, EventLog, Store } from '@herald/core';
import { parkedKeys, redrive } from '@herald/core/ops';
import { readAll, waitFor } from './fixtures.ts';

/** What the workload put in the log, for the test's expectations. */
export interface AuditedWorkload {
  readonly group: string;
  readonly topic: string;
  /** Events appended to `topic` (originals, the redriven copy and the duplicate). */
  readonly appended: number;
  /** Distinct ids the group handled. */
  readonly handled: number;
  readonly deadLettered: number;
  readonly duplicates: number;
  /** Events still parked behind the dead letter that was not redriven. */
  readonly parked: number;
}

const TYPE = 'dev.herald.test.audited.v1';
const EVENTS = 36;
const KEYS = 6;
const POISON = new Set([10, 23]);
/** Events of 23's key after it: parked behind its dead letter, which is never redriven. */
const PARKED = 2;
const encoder = new TextEncoder();

function audited(i: number): CloudEvent {
  return {
    specversion: '1.0',
    id: `audited-${i}`,
    source: '/audit-test',
    type: TYPE,
    partitionkey: `key-${i % KEYS}`,
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ i })),
  };
}

/** Runs the workload on `log` and `store` until the group has committed everything. */
export async function runAuditedWorkload(
  log: EventLog,
  store: Store,
  options: { readonly group?: string; readonly topic?: string } = {},
): Promise<AuditedWorkload> {
  const group = options.group ?? 'audit.billing';
  const topic = options.topic ?? 'audited';
  const deadLetterTopic = `${topic}.dead-letter`;
  await log.createTopic(topic, { partitions: 2 });
  for (let i = 0; i < EVENTS; i++) await log.append(topic, audited(i));

  const router = createRouter({
    log,
    group,
    topics: [topic],
    store,
    maxInFlight: 8,
    middleware: [deadLetter(), retry({ maxAttempts: 2, initialDelayMs: 5 }), idempotency({ store })],
  });
  router.on(TYPE, async (event, context) => {
    const { i } = JSON.parse(new TextDecoder().decode(event.data)) as { i: number };
    // Poison until redriven: the redriven copy carries `dlredrive` and goes through.
    if (POISON.has(i) && event.extensions?.['dlredrive'] === undefined) throw new Error(`poison ${i}`);
    if (i % 5 === 1 && context.attempt === 1) throw new Error(`a transient failure of ${i}`);
    await context.transaction(async (tx) => {
      await tx.put('audited', event.id, { i, attempt: context.attempt });
    });
  });
  const running = router.run();
  const settled = async (): Promise<boolean> => {
    const { partitions } = await log.describeGroup(group);
    return partitions.length === 2 && partitions.every((p) => p.committed === p.latest);
  };
  const deadLetters = async (): Promise<number> =>
    (await log.listTopics()).some((t) => t.name === deadLetterTopic)
      ? (await readAll(log, deadLetterTopic)).length
      : 0;
  await waitFor(async () => (await deadLetters()) === POISON.size && (await settled()), 60_000, 'first pass');

  const [first] = (await readAll(log, deadLetterTopic)).sort((a, b) => a.id.localeCompare(b.id));
  await redrive({
    log,
    store,
    deadLetterTopic,
    positions: [{ partition: first!.partition, offset: first!.offset }],
    actor: 'audit-test',
  });
  // The same event published again (a producer's retry): a duplicate delivery, no second effect.
  await log.append(topic, audited(3));
  // The redriven copy releases 10's key; 23's key stays parked.
  const released = async (): Promise<boolean> => {
    const keys = await parkedKeys(store, group);
    return keys.length === 1 && keys[0]?.eventId === 'audited-23' && keys[0].count === PARKED;
  };
  await waitFor(
    async () => (await readAll(log, topic)).length === EVENTS + 2 && (await settled()) && (await released()),
    60_000,
    'the redriven copy, the events it released and the duplicate',
  );
  await router.stop();
  await running;
  return {
    group,
    topic,
    appended: EVENTS + 2,
    handled: EVENTS - POISON.size + 1 - PARKED,
    deadLettered: POISON.size,
    duplicates: 1,
    parked: PARKED,
  };
}
