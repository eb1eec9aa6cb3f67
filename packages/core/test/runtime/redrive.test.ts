import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST_TYPE, makeEvent, readAll, waitFor } from '@herald/testing';
import type { StoredEvent } from '../../src/envelope.ts';
import { isHeraldError } from '../../src/errors.ts';
import type { EventLog } from '../../src/event-log.ts';
import { openMemoryLog } from '../../src/memory.ts';
import { PermanentFailure } from '../../src/runtime/handler.ts';
import { deadLetter } from '../../src/runtime/middleware/dead-letter.ts';
import { idempotency } from '../../src/runtime/middleware/idempotency.ts';
import { retry } from '../../src/runtime/middleware/retry.ts';
import {
  AUDIT_COLLECTION,
  REDRIVE_COLLECTION,
  deadLetterMetadataOf,
  redrive,
} from '../../src/runtime/redrive.ts';
import type { RedriveAuditEntry, RedriveOutcome, RedriveRecord } from '../../src/runtime/redrive.ts';
import { createRouter } from '../../src/runtime/router.ts';
import { MemoryStore } from './fixtures/memory-store.ts';
import { bytes, start, waitForNoLag } from './fixtures/harness.ts';

const GROUP = 'billing.invoices';
const DLQ = 'orders.dead-letter';

/**
 * `orders` (3 partitions) with events 1–4; the handler of `GROUP` refuses the ids in `broken`
 * (a permanent failure, parked at once) until they are removed from it, and counts its effects
 * in the store (with the idempotency inbox, so a duplicate has no second effect).
 */
async function scenario(options: { store: boolean }) {
  const log = await openMemoryLog();
  const store = options.store ? new MemoryStore(log) : undefined;
  await log.createTopic('orders', { partitions: 3 });
  const poison = makeEvent(1, 'order-1', {
    subject: 'orders/1',
    data: bytes('{"i":1,"note":"caf\u00e9"}'),
    extensions: { tenant: 'acme' },
  });
  const keyless = makeEvent(2);
  const broken = new Set([poison.id, keyless.id]);
  await log.append('orders', poison);
  await log.append('orders', keyless, { partition: 2 });
  await log.appendBatch('orders', [makeEvent(3, 'order-3'), makeEvent(4, 'order-4')]);
  const effects = new Map<string, number>();
  const router = createRouter({
    log,
    group: GROUP,
    topics: ['orders'],
    ...(store === undefined ? {} : { store }),
    middleware: [
      deadLetter(),
      retry({ maxAttempts: 2, initialDelayMs: 1 }),
      ...(store === undefined ? [] : [idempotency({ store })]),
    ],
  });
  router.on(TEST_TYPE, async (event, ctx) => {
    if (broken.has(event.id)) throw new PermanentFailure(`order ${event.id} cannot be invoiced`);
    effects.set(event.id, (effects.get(event.id) ?? 0) + 1);
    if (store !== undefined) {
      await ctx.transaction(async (tx) => {
        await tx.put('invoices', event.id, ((await tx.get<number>('invoices', event.id)) ?? 0) + 1);
      });
    }
  });
  const run = start(router);
  await waitForNoLag(log, GROUP);
  const parked = await waitForEntries(log, 2);
  const entryOf = (id: string): StoredEvent => parked.find((e) => e.id === id)!;
  return { log, store, poison, keyless, broken, effects, run, entryOf };
}

async function waitForEntries(log: EventLog, count: number): Promise<StoredEvent[]> {
  let found: StoredEvent[] = [];
  await waitFor(
    async () => {
      const topics = (await log.listTopics()).map((t) => t.name);
      found = topics.includes(DLQ) ? await readAll(log, DLQ) : [];
      return found.length >= count;
    },
    5000,
    `${count} entries in ${DLQ}`,
  );
  return found;
}

/** Events of `orders` carrying `dlredrive`, i.e. redriven ones. */
async function redriven(log: EventLog): Promise<StoredEvent[]> {
  return (await readAll(log, 'orders')).filter((e) => e.extensions?.['dlredrive'] !== undefined);
}

const at = (entry: StoredEvent) => ({ partition: entry.partition, offset: entry.offset });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

void describe('redrive', () => {
  void it('re-appends the original event: same id, attributes, key and bytes, no dl* metadata, dlredrive=1', async () => {
    const { log, store, poison, run, entryOf } = await scenario({ store: true });
    await run.stop();
    const entry = entryOf(poison.id);
    const result = await redrive({
      log,
      store: store!,
      deadLetterTopic: DLQ,
      positions: [at(entry)],
      actor: 'alice',
    });
    assert.equal(result.recorded, true);
    assert.deepEqual(
      result.outcomes.map((o) => [o.status, o.eventId, o.topic, o.count]),
      [['redriven', poison.id, 'orders', 1]],
    );
    const [again] = await redriven(log);
    assert.ok(again !== undefined, 'nothing was re-appended');
    const original = (await readAll(log, 'orders')).find(
      (e) => e.id === poison.id && e.extensions?.['dlredrive'] === undefined,
    )!;
    const { topic: _t, partition: _p, offset: _o, timestamp: _ts, extensions, data, ...attributes } = again;
    const {
      topic: _t2,
      partition: _p2,
      offset: _o2,
      timestamp: _ts2,
      extensions: ext2,
      data: d2,
      ...expected
    } = original;
    assert.deepEqual(attributes, expected);
    assert.deepEqual(extensions, { ...ext2, dlredrive: '1' });
    assert.ok(Buffer.from(data!).equals(Buffer.from(d2!)), 'the data bytes changed');
    assert.equal(again.partition, original.partition);
    assert.equal(deadLetterMetadataOf(again), undefined);
    await log.close();
  });

  void it('puts a keyless event back into the partition it came from', async () => {
    const { log, store, keyless, run, entryOf } = await scenario({ store: true });
    await run.stop();
    await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: [at(entryOf(keyless.id))] });
    const [again] = await redriven(log);
    assert.equal(again?.id, keyless.id);
    assert.equal(again?.partition, 2);
    await log.close();
  });

  void it('makes two identical requests at once one redrive: one event appended, count 1, one audit entry', async () => {
    const { log, store, poison, run, entryOf, broken, effects } = await scenario({ store: true });
    broken.delete(poison.id);
    const request = { log, store: store!, deadLetterTopic: DLQ, positions: [at(entryOf(poison.id))] };
    const results = await Promise.all([redrive(request), redrive(request)]);
    assert.deepEqual(results.map((r) => r.outcomes[0]?.status).sort(), ['duplicate', 'redriven']);
    assert.equal((await redriven(log)).length, 1);
    const { partition, offset } = at(entryOf(poison.id));
    const record = await store!.get<RedriveRecord>(REDRIVE_COLLECTION, `${DLQ}/${partition}/${offset}`);
    assert.equal(record?.count, 1);
    assert.equal((await store!.list(AUDIT_COLLECTION)).length, 1);
    await waitFor(
      () => effects.get(poison.id) === 1,
      5000,
      'the fixed handler to invoice the redriven order',
    );
    await run.stop();
    assert.equal(await store!.get('invoices', poison.id), 1);

    const later = await redrive(request);
    assert.equal(later.outcomes[0]?.status, 'duplicate', 'repeating the request redrove again');
    assert.equal((await redriven(log)).length, 1);
    await log.close();
  });

  void it('redrives again only from the count it has, caps redrives and audits each, refusals included', async () => {
    const { log, store, poison, run, entryOf } = await scenario({ store: true });
    await run.stop();
    const position = at(entryOf(poison.id));
    const request = { log, store: store!, deadLetterTopic: DLQ, maxRedrives: 3, actor: 'bob' };
    const counts: number[] = [];
    for (const expectedCount of [0, 1, 2]) {
      const result = await redrive({ ...request, positions: [{ ...position, expectedCount }] });
      counts.push(result.outcomes[0]!.count);
    }
    assert.deepEqual(counts, [1, 2, 3]);
    assert.deepEqual(
      (await redriven(log)).map((e) => e.extensions?.['dlredrive']),
      ['1', '2', '3'],
    );

    const error = await rejection(redrive({ ...request, positions: [{ ...position, expectedCount: 3 }] }));
    assert.ok(isHeraldError(error, 'CONFLICT'), String(error));
    assert.match(error.message, /reached the redrive cap \(3 of 3\)/);
    assert.equal((error.details['outcomes'] as RedriveOutcome[])[0]?.status, 'refused');
    const done = await redrive({ ...request, positions: [{ ...position, expectedCount: 1 }] });
    assert.equal(done.outcomes[0]?.status, 'duplicate', 'the redrive from count 1 was carried out already');
    const stale = await rejection(redrive({ ...request, positions: [{ ...position, expectedCount: 5 }] }));
    assert.ok(isHeraldError(stale, 'CONFLICT'), String(stale));
    assert.match(stale.message, /has been redriven 3 times, not 5 times/);
    assert.equal((await redriven(log)).length, 3, 'a refused redrive appended');

    const audit = (await store!.list<RedriveAuditEntry>(AUDIT_COLLECTION)).map((d) => d.value);
    assert.deepEqual(
      audit.map((a) => [a.outcome, a.count, a.actor, a.eventId, a.partition, a.offset]),
      [
        ['redriven', 1, 'bob', poison.id, position.partition, position.offset],
        ['redriven', 2, 'bob', poison.id, position.partition, position.offset],
        ['redriven', 3, 'bob', poison.id, position.partition, position.offset],
        ['refused', 3, 'bob', poison.id, position.partition, position.offset],
        ['refused', 3, 'bob', poison.id, position.partition, position.offset],
      ],
    );
    assert.ok(audit.every((a) => !Number.isNaN(Date.parse(a.at))));
    await log.close();
  });

  void it('redrives every entry never redriven with "all", and passes over those redriven before', async () => {
    const { log, store, poison, keyless, run, entryOf } = await scenario({ store: true });
    await run.stop();
    await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: [at(entryOf(poison.id))] });
    const result = await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: 'all' });
    assert.deepEqual(
      result.outcomes.map((o) => [o.eventId, o.status]),
      [[keyless.id, 'redriven']],
    );
    assert.equal(result.skipped, 1);
    assert.deepEqual((await redriven(log)).map((e) => e.id).sort(), [poison.id, keyless.id].sort());
    const nothing = await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: 'all' });
    assert.deepEqual(nothing.outcomes, []);
    assert.equal(nothing.skipped, 2);
    await log.close();
  });

  void it('appends and records nothing on a dry run, and reports what would be refused', async () => {
    const { log, store, poison, run, entryOf } = await scenario({ store: true });
    await run.stop();
    const position = at(entryOf(poison.id));
    const plan = await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: 'all', dryRun: true });
    assert.deepEqual(
      plan.outcomes.map((o) => [o.status, o.count]),
      [
        ['planned', 1],
        ['planned', 1],
      ],
    );
    assert.equal((await redriven(log)).length, 0);
    assert.deepEqual(await store!.list(REDRIVE_COLLECTION), []);
    assert.deepEqual(await store!.list(AUDIT_COLLECTION), []);
    const capped = await redrive({
      log,
      store: store!,
      deadLetterTopic: DLQ,
      positions: [position],
      maxRedrives: 1,
      dryRun: true,
    });
    assert.equal(capped.outcomes[0]?.status, 'planned');
    await redrive({ log, store: store!, deadLetterTopic: DLQ, positions: [position], maxRedrives: 1 });
    const refused = await redrive({
      log,
      store: store!,
      deadLetterTopic: DLQ,
      positions: [{ ...position, expectedCount: 1 }],
      maxRedrives: 1,
      dryRun: true,
    });
    assert.equal(refused.outcomes[0]?.status, 'refused');
    await log.close();
  });

  void it('treats requests with the same idempotency key as one, whatever the count became', async () => {
    const { log, store, poison, run, entryOf } = await scenario({ store: true });
    await run.stop();
    const request = {
      log,
      store: store!,
      deadLetterTopic: DLQ,
      positions: [at(entryOf(poison.id))],
      idempotencyKey: 'ticket-42',
    };
    assert.equal((await redrive(request)).outcomes[0]?.status, 'redriven');
    assert.equal((await redrive(request)).outcomes[0]?.status, 'duplicate');
    const other = await rejection(redrive({ ...request, idempotencyKey: 'ticket-43' }));
    assert.ok(isHeraldError(other, 'CONFLICT'), 'a new request expecting count 0 was not refused');
    const next = await redrive({
      ...request,
      idempotencyKey: 'ticket-43',
      positions: [{ ...at(entryOf(poison.id)), expectedCount: 1 }],
    });
    assert.equal(next.outcomes[0]?.count, 2);
    assert.equal((await redriven(log)).length, 2);
    await log.close();
  });

  void it('without a store still re-appends with the same id, so the idempotency inbox keeps one effect', async () => {
    const { log, poison, run, entryOf } = await scenario({ store: false });
    await run.stop();
    const request = { log, deadLetterTopic: DLQ, positions: [at(entryOf(poison.id))] };
    const results = await Promise.all([redrive(request), redrive(request)]);
    assert.deepEqual(
      results.map((r) => [r.recorded, r.outcomes[0]?.status, r.outcomes[0]?.count]),
      [
        [false, 'redriven', 1],
        [false, 'redriven', 1],
      ],
    );
    const again = await redriven(log);
    assert.deepEqual(
      again.map((e) => [e.id, e.extensions?.['dlredrive']]),
      [
        [poison.id, '1'],
        [poison.id, '1'],
      ],
      'best effort: both requests append, with the original id',
    );

    const store = new MemoryStore(log);
    let deliveries = 0;
    let effects = 0;
    const consumer = createRouter({
      log,
      group: 'ledger.postings',
      topics: ['orders'],
      store,
      startAt: 'latest',
      middleware: [
        (next) => async (event, ctx) => {
          if (event.id === poison.id) deliveries++;
          await next(event, ctx);
        },
        idempotency({ store }),
      ],
    });
    consumer.on(TEST_TYPE, async (event, ctx) => {
      if (event.id === poison.id) effects++;
      await ctx.transaction(async (tx) => tx.put('posted', event.id, true));
    });
    const consuming = start(consumer);
    await waitFor(
      async () => (await log.describeGroup('ledger.postings')).members.some((m) => m.partitions.length === 3),
      5000,
      'the consumer to own every partition',
    );
    await redrive(request);
    await redrive(request);
    await waitFor(() => deliveries === 2, 5000, 'both redriven copies to be delivered');
    await consuming.stop();
    assert.equal(effects, 1);
    await log.close();
  });

  void it('checks every position before redriving any, and says what is wrong', async () => {
    const { log, store, poison, run, entryOf } = await scenario({ store: true });
    await run.stop();
    const good = at(entryOf(poison.id));
    await log.createTopic('plain', { partitions: 1 });
    await log.append('plain', makeEvent(9));
    const cases: [Parameters<typeof redrive>[0], string, RegExp][] = [
      [{ log, store: store!, deadLetterTopic: 'nope', positions: [good] }, 'UNKNOWN_TOPIC', /nope/],
      [
        {
          log,
          store: store!,
          deadLetterTopic: DLQ,
          positions: [good, { partition: good.partition, offset: 99 }],
        },
        'INVALID_ARGUMENT',
        /has no entry at \d:99/,
      ],
      [
        { log, store: store!, deadLetterTopic: 'plain', positions: [{ partition: 0, offset: 0 }] },
        'INVALID_ARGUMENT',
        /not a dead-letter entry: it has no dltopic attribute/,
      ],
      [
        { log, store: store!, deadLetterTopic: DLQ, positions: [good], maxRedrives: 0 },
        'INVALID_ARGUMENT',
        /maxRedrives must be a positive integer/,
      ],
      [
        { log, store: store!, deadLetterTopic: DLQ, positions: [{ partition: -1, offset: 0 }] },
        'INVALID_ARGUMENT',
        /partition ≥ 0/,
      ],
    ];
    for (const [options, code, message] of cases) {
      const error = await rejection(redrive(options));
      assert.ok(isHeraldError(error), String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
    }
    assert.equal((await redriven(log)).length, 0, 'a failed request redrove something');
    assert.deepEqual(await store!.list(AUDIT_COLLECTION), []);
    await log.close();
  });
});
