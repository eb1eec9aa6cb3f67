// The Store contract on a real Postgres: documents, inbox, failure records, the outbox, and the
// transaction rules (atomicity, serializable with bounded retries, no silent partial commits).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CloudEvent, type InboxOutcome, isHeraldError } from '@herald/core';
import { type PostgresStore, openPostgresStore } from '@herald/postgres';
import type { PostgresStoreOptions } from '@herald/postgres';
import type { Pool } from 'pg';
import { postgresUnavailable, reportUnavailable, testSchema } from './fixtures/test-postgres.ts';

const encoder = new TextEncoder();

function event(id: string, extra: Partial<CloudEvent> = {}): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: '/test/store',
    type: 'dev.herald.test.thing-happened.v1',
    datacontenttype: 'application/json',
    data: encoder.encode(JSON.stringify({ id })),
    ...extra,
  };
}

/** A fresh schema and a store on it; both go away at the end of the test. */
async function withStore(
  run: (store: PostgresStore, db: { pool: Pool; schema: string }) => Promise<void>,
  options: Omit<PostgresStoreOptions, 'pool' | 'connectionString' | 'schema'> = {},
): Promise<void> {
  await using db = testSchema();
  const store = await openPostgresStore({ ...options, pool: db.pool, schema: db.schema });
  try {
    await run(store, db);
  } finally {
    await store.close();
  }
}

function withoutData(e: CloudEvent): CloudEvent {
  const { data: _data, ...rest } = e;
  return rest;
}

async function outboxRows(db: { pool: Pool; schema: string }) {
  const { rows } = await db.pool.query<{
    topic: string;
    partition: number | null;
    attributes: Record<string, string>;
    data: Buffer | null;
  }>(`SELECT topic, partition, attributes, data FROM "${db.schema}".herald_outbox ORDER BY id`);
  return rows;
}

/** Resolves when `parties` callers have arrived; later calls pass at once. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return async () => {
    if (++arrived >= parties) open();
    await opened;
  };
}

const unavailable = await postgresUnavailable();
if (unavailable !== undefined) {
  reportUnavailable('PostgresStore', unavailable);
} else {
  void describe('PostgresStore', () => {
    void it('keeps documents by collection and id, listing them in byte order with prefix and limit', async () => {
      await withStore(async (store) => {
        await store.transaction(async (tx) => {
          for (const id of ['b', 'a', 'B', 'ab', 'a-2', 'é'])
            await tx.put('things', id, { id, n: id.length });
          await tx.put('other', 'a', 'elsewhere');
          await tx.put('things', 'b', { id: 'b', n: 99 });
        });
        assert.deepEqual(await store.get('things', 'b'), { id: 'b', n: 99 });
        assert.equal(await store.get('things', 'missing'), undefined);
        assert.deepEqual(
          (await store.list('things')).map((d) => d.id),
          ['B', 'a', 'a-2', 'ab', 'b', 'é'],
        );
        assert.deepEqual(
          (await store.list('things', { prefix: 'a' })).map((d) => d.id),
          ['a', 'a-2', 'ab'],
        );
        assert.deepEqual(
          (await store.list('things', { prefix: 'a', limit: 2 })).map((d) => d.id),
          ['a', 'a-2'],
        );
        const deleted = await store.transaction(async (tx) => [
          await tx.delete('things', 'a'),
          await tx.delete('things', 'a'),
          await tx.get('things', 'a'),
          (await tx.list('things', { prefix: 'a' })).length,
        ]);
        assert.deepEqual(deleted, [true, false, undefined, 2]);
        await assert.rejects(store.get('bad/collection', 'x'), { code: 'INVALID_ARGUMENT' });
      });
    });

    void it('rolls back documents, outbox events and inbox entries together when the transaction throws', async () => {
      await withStore(async (store, db) => {
        const thrown = new Error('business rule says no');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.put('orders', 'o-1', { status: 'placed' });
            await tx.emit('orders', event('e-1'));
            assert.equal(await tx.recordHandled('billing.invoices', 'e-0', 'fp'), 'first');
            throw thrown;
          }),
          (error) => error === thrown,
        );
        assert.equal(await store.get('orders', 'o-1'), undefined);
        assert.deepEqual(await outboxRows(db), []);
        assert.equal(await store.inboxStatus('billing.invoices', 'e-0', 'fp'), 'unseen');
        assert.equal(await store.outboxBacklog(), 0);
      });
    });

    void it('records inbox outcomes: first, then duplicate for the same payload, conflict for another', async () => {
      await withStore(async (store) => {
        assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-a'), 'unseen');
        const outcomes = await store.transaction(async (tx) => [
          await tx.recordHandled('g.one', 'e-1', 'fp-a'),
          await tx.recordHandled('g.one', 'e-1', 'fp-a'),
          await tx.recordHandled('g.one', 'e-1', 'fp-b'),
          await tx.recordHandled('g.two', 'e-1', 'fp-b'),
        ]);
        assert.deepEqual(outcomes, ['first', 'duplicate', 'conflict', 'first']);
        assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-a'), 'duplicate');
        assert.equal(await store.inboxStatus('g.one', 'e-1', 'fp-b'), 'conflict');
        assert.equal(await store.transaction((tx) => tx.recordHandled('g.one', 'e-1', 'fp-a')), 'duplicate');
      });
    });

    for (const isolation of ['serializable', 'read committed'] as const) {
      void it(`gives exactly one 'first' when eight transactions record the same event at once (${isolation})`, async () => {
        await withStore(
          async (store, db) => {
            const outcomes = await Promise.all(
              Array.from({ length: 8 }, (_, i) =>
                store.transaction(async (tx) => {
                  const outcome = await tx.recordHandled('race.group', 'e-race', 'fp');
                  // Held open so the others' inserts wait on this one's uncommitted entry.
                  await sleep(30);
                  await tx.put('effects', `attempt-${i}`, outcome);
                  return outcome;
                }),
              ),
            );
            const count = (o: InboxOutcome) => outcomes.filter((x) => x === o).length;
            assert.equal(count('first'), 1, `outcomes: ${outcomes.join(', ')}`);
            assert.equal(count('duplicate'), 7);
            const { rows } = await db.pool.query<{ n: string }>(
              `SELECT count(*) AS n FROM "${db.schema}".herald_inbox WHERE event_id = 'e-race'`,
            );
            assert.equal(rows[0]?.n, '1');
          },
          { isolation },
        );
      });
    }

    void it('never loses an update when transactions read-modify-write the same document at once', async () => {
      await withStore(async (store) => {
        await store.transaction((tx) => tx.put('counters', 'c', 0));
        let runs = 0;
        await Promise.all(
          Array.from({ length: 8 }, () =>
            store.transaction(async (tx) => {
              runs++;
              const value = (await tx.get<number>('counters', 'c')) ?? 0;
              await sleep(5);
              await tx.put('counters', 'c', value + 1);
            }),
          ),
        );
        assert.equal(await store.get('counters', 'c'), 8);
        assert.ok(runs > 8, 'the transactions should have collided and been run again');
      });
    });

    void it('gives up with CONTENTION after maxAttempts serialization failures, committing nothing of it', async () => {
      await withStore(
        async (store) => {
          await store.transaction((tx) => tx.put('counters', 'c', 0));
          const bothRead = barrier(2);
          const increment = () =>
            store.transaction(async (tx) => {
              const value = (await tx.get<number>('counters', 'c')) ?? 0;
              await bothRead();
              await tx.put('counters', 'c', value + 1);
              await tx.emit('counted', event(`count-${value}-${Math.random()}`));
            });
          const results = await Promise.allSettled([increment(), increment()]);
          const rejected = results.filter((r) => r.status === 'rejected');
          assert.equal(rejected.length, 1, 'exactly one of two colliding transactions fails');
          const error: unknown = rejected[0]?.reason;
          assert.ok(isHeraldError(error, 'CONTENTION'), String(error));
          assert.equal(error.details['attempts'], 1);
          assert.match(error.message, /serialization failures or deadlocks/);
          assert.equal(await store.get('counters', 'c'), 1);
          assert.equal(await store.outboxBacklog(), 1);
        },
        { maxAttempts: 1 },
      );
    });

    void it('stores emitted events encoded in the outbox at commit, and emit resolves undefined', async () => {
      await withStore(async (store, db) => {
        const data = new Uint8Array([0, 1, 2, 255]);
        const results = await store.transaction(async (tx) => {
          const first = await tx.emit(
            'orders',
            event('e-1', {
              data,
              partitionkey: 'order-1',
              time: '2026-01-02T03:04:05Z',
              extensions: { tenant: 'acme' },
            }),
          );
          // The caller's buffer is copied at emit: changing it later changes nothing.
          data[0] = 42;
          const second = await tx.emit('payments', withoutData(event('e-2')), { partition: 3 });
          assert.equal(await store.outboxBacklog(), 0, 'nothing is visible before commit');
          return [first, second];
        });
        assert.deepEqual(results, [undefined, undefined]);
        const rows = await outboxRows(db);
        assert.equal(rows.length, 2);
        assert.deepEqual(rows[0], {
          topic: 'orders',
          partition: null,
          attributes: {
            specversion: '1.0',
            id: 'e-1',
            source: '/test/store',
            type: 'dev.herald.test.thing-happened.v1',
            datacontenttype: 'application/json',
            partitionkey: 'order-1',
            time: '2026-01-02T03:04:05Z',
            tenant: 'acme',
          },
          data: Buffer.from([0, 1, 2, 255]),
        });
        assert.equal(rows[1]?.topic, 'payments');
        assert.equal(rows[1]?.partition, 3);
        assert.equal(rows[1]?.data, null);
      });
    });

    void it('refuses malformed, oversized or misaddressed events at emit, so none is stored', async () => {
      await withStore(
        async (store, db) => {
          const refusals = await store.transaction(async (tx) => {
            const codes: string[] = [];
            const attempts: (() => Promise<unknown>)[] = [
              () => tx.emit('orders', { ...event('e-bad'), id: '' }),
              () => tx.emit('orders', event('e-bad', { time: 'yesterday' })),
              () => tx.emit('orders', event('e-bad', { subject: 'a\u0000b' })),
              () => tx.emit('orders', event('e-big', { data: new Uint8Array(2048) })),
              () => tx.emit('no spaces allowed', event('e-topic')),
              () => tx.emit('orders', event('e-partition'), { partition: -1 }),
            ];
            for (const attempt of attempts) {
              await attempt().then(
                () => codes.push('accepted'),
                (error: unknown) => codes.push(isHeraldError(error) ? error.code : String(error)),
              );
            }
            await tx.emit('orders', event('e-good'));
            return codes;
          });
          assert.deepEqual(refusals, [
            'INVALID_ENVELOPE',
            'INVALID_ENVELOPE',
            'INVALID_ENVELOPE',
            'TOO_LARGE',
            'INVALID_ARGUMENT',
            'INVALID_ARGUMENT',
          ]);
          assert.deepEqual(
            (await outboxRows(db)).map((r) => r.attributes['id']),
            ['e-good'],
          );
        },
        { maxEventBytes: 1024 },
      );
    });

    void it('sends a transaction that only writes and emits in one round trip, and a read with what came before it', async () => {
      await using db = testSchema();
      // Every statement text the pool's connections are asked to run, in order.
      const sent: string[] = [];
      db.pool.on('connect', (client) => {
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
          sent.push(typeof config === 'string' ? config : String((config as { text?: unknown }).text));
          return query(config, ...rest);
        };
      });
      await using store = await openPostgresStore({ pool: db.pool, schema: db.schema });
      sent.length = 0;
      await store.transaction(async (tx) => {
        await tx.put('docs', 'a', { n: 1 });
        await tx.emit('orders', event('e-one-trip'));
      });
      assert.equal(sent.length, 1, `one round trip: ${sent.join(' | ')}`);
      assert.match(sent[0]!, /^BEGIN .*herald_documents.*pg_advisory_xact_lock.*herald_outbox.*COMMIT$/s);
      sent.length = 0;
      const seen = await store.transaction(async (tx) => {
        await tx.put('docs', 'b', { n: 2 });
        const read = await tx.get<{ n: number }>('docs', 'b');
        await tx.put('docs', 'c', { n: (read?.n ?? 0) + 1 });
        return read;
      });
      assert.deepEqual(seen, { n: 2 }, 'a read sees the writes sent before it');
      assert.equal(sent.length, 2, `the read, then the rest: ${sent.join(' | ')}`);
      assert.deepEqual(await store.get('docs', 'c'), { n: 3 });
      // Values written in as literals read back as they were.
      const tricky = { quote: "it's", backslash: 'a\\b\\n', unicode: 'café 🚀', json: '{"x":1}' };
      await store.transaction((tx) => tx.put('docs', "o'brien\\", tricky));
      assert.deepEqual(await store.get('docs', "o'brien\\"), tricky);
      assert.deepEqual(
        (await outboxRows(db)).map((r) => r.attributes['id']),
        ['e-one-trip'],
      );
      // An inbox entry asked for goes with the next statement of the same turn.
      sent.length = 0;
      const outcomes = await store.transaction(async (tx) => {
        const recording = tx.recordHandled('g.one', 'e-inbox', 'fp');
        const read = await tx.get('docs', 'a');
        return [await recording, read];
      });
      assert.deepEqual(outcomes, ['first', { n: 1 }]);
      assert.equal(sent.length, 2, `the entry with the read, then COMMIT: ${sent.join(' | ')}`);
      assert.match(sent[0]!, /herald_inbox.*herald_documents/s);
      // Alone, it is sent once the turn ends.
      const again = await store.transaction((tx) => tx.recordHandled('g.one', 'e-inbox', 'fp'));
      assert.equal(again, 'duplicate');
    });

    void it('fails a read with the error of a write sent before it, and commits nothing of the transaction', async () => {
      await withStore(async (store) => {
        const error = await store
          .transaction(async (tx) => {
            await tx.put('docs', 'first', 1);
            // jsonb cannot hold U+0000: refused when it is sent, with the read.
            await tx.put('docs', 'nul', { text: 'a\u0000b' });
            await tx.emit('orders', event('e-never'));
            return tx.get('docs', 'first');
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), String(error));
        assert.equal(await store.get('docs', 'first'), undefined);
        assert.equal(await store.outboxBacklog(), 0);
      });
    });

    void it('does not commit a transaction whose statement failed, even when the function caught the failure', async () => {
      await withStore(async (store) => {
        const error = await store
          .transaction(async (tx) => {
            // jsonb cannot hold U+0000: the statement fails and Postgres aborts the transaction.
            await tx.put('docs', 'nul', { text: 'a\u0000b' }).catch(() => undefined);
            await tx.put('docs', 'after', 1).catch(() => undefined);
            await tx.emit('orders', event('e-lost'));
            return 'done';
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), String(error));
        assert.equal(await store.get('docs', 'after'), undefined);
        assert.equal(await store.outboxBacklog(), 0);
      });
    });

    void it('fails a transaction whose connection the server ends with BACKEND_UNAVAILABLE, and keeps working', async () => {
      await withStore(async (store, db) => {
        const error = await store
          .transaction(async (tx) => {
            await tx.put('docs', 'before', 1);
            // A read sends what the transaction has not sent yet: the session is in a transaction now.
            assert.equal(await tx.get('docs', 'before'), 1);
            const { rows } = await db.pool.query(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE state = 'idle in transaction' AND query LIKE $1`,
              [`%"${db.schema}".herald_documents%`],
            );
            assert.equal(rows.length, 1, 'the transaction’s own session was found');
            // Let the disconnection arrive while no statement runs: it surfaces as the client's
            // 'error' event, which must not end the process.
            await sleep(50);
            await tx.put('docs', 'after', 2);
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert.ok(isHeraldError(error, 'BACKEND_UNAVAILABLE'), String(error));
        await store.transaction((tx) => tx.put('docs', 'later', 3));
        assert.deepEqual(
          (await store.list('docs')).map((d) => d.id),
          ['later'],
        );
      });
    });

    void it('refuses a transaction handle used after its transaction ended', async () => {
      await withStore(async (store) => {
        const leaked = await store.transaction(async (tx) => tx);
        await assert.rejects(leaked.put('docs', 'late', 1), { code: 'CLOSED' });
        await assert.rejects(leaked.emit('orders', event('e-late')), { code: 'CLOSED' });
        assert.equal(await store.get('docs', 'late'), undefined);
      });
    });

    void it('counts failed attempts per delivery and clears them on request', async () => {
      await withStore(async (store) => {
        const key = { group: 'g.one', topic: 'orders', partition: 2, offset: 2 ** 40 };
        assert.equal(await store.failures(key), undefined);
        const first = await store.recordFailure(key, 'Error: first');
        const second = await store.recordFailure(key, 'Error: second');
        await store.recordFailure({ ...key, offset: 7 }, 'Error: other offset');
        assert.equal(first.attempts, 1);
        assert.equal(second.attempts, 2);
        assert.equal(second.firstFailureAt, first.firstFailureAt);
        assert.ok(second.lastFailureAt >= first.lastFailureAt);
        assert.equal(second.lastError, 'Error: second');
        assert.deepEqual(await store.failures(key), second);
        await store.clearFailures(key);
        assert.equal(await store.failures(key), undefined);
        assert.equal((await store.failures({ ...key, offset: 7 }))?.attempts, 1);
      });
    });

    void it('creates its tables once when several stores open the same new schema at once', async () => {
      await using db = testSchema();
      const stores = await Promise.all(
        Array.from({ length: 4 }, () => openPostgresStore({ pool: db.pool, schema: db.schema })),
      );
      await stores[0]!.transaction((tx) => tx.put('docs', 'a', 1));
      assert.equal(await stores[3]!.get('docs', 'a'), 1);
      for (const store of stores) await store.close();
      // A pool the caller passed in stays usable after the store closed.
      assert.equal((await db.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
      await assert.rejects(stores[0]!.get('docs', 'a'), { code: 'CLOSED' });
      await assert.rejects(
        stores[0]!.transaction(async () => undefined),
        { code: 'CLOSED' },
      );
    });

    void it('reports BACKEND_UNAVAILABLE when Postgres cannot be reached', async () => {
      await assert.rejects(openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test' }), {
        code: 'BACKEND_UNAVAILABLE',
      });
      await assert.rejects(
        openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'Not-Valid' }),
        { code: 'INVALID_ARGUMENT' },
      );
    });
  });
}
