import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import {
  ProtocolError,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
} from '@platformatic/kafka';
import { CoordinatorBackoff } from '../src/coordinator-backoff.ts';
import { resolveKafkaLogOptions } from '../src/kafka-log-options.ts';
import { KafkaSubscription } from '../src/kafka-subscription.ts';
import type { KafkaLogInternals } from '../src/kafka-subscription.ts';
import type { KafkaWire } from '../src/kafka-wire.ts';

/** A monotonic clock that moves only when the backoff sleeps. */
function fakeClock(): { now: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let at = 1000;
  const slept: number[] = [];
  return {
    now: () => at,
    sleep: async (ms) => {
      slept.push(ms);
      at += ms;
    },
    slept,
  };
}

void describe('CoordinatorBackoff', () => {
  void it('retries coordinator errors with doubling waits, never waiting past the budget', async () => {
    const clock = fakeClock();
    const backoff = new CoordinatorBackoff({
      budgetMs: 1000,
      initialDelayMs: 100,
      maxDelayMs: 400,
      ...clock,
    });
    const loading = new ProtocolError('COORDINATOR_LOAD_IN_PROGRESS');
    const retried: boolean[] = [];
    for (let i = 0; i < 8; i++) retried.push(await backoff.retry(loading));
    assert.deepEqual(clock.slept, [100, 200, 400, 300]);
    assert.deepEqual(retried, [true, true, true, true, false, false, false, false]);
  });

  void it('treats NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE the same way', async () => {
    const clock = fakeClock();
    const backoff = new CoordinatorBackoff({ budgetMs: 1000, initialDelayMs: 10, maxDelayMs: 10, ...clock });
    assert.equal(await backoff.retry(new ProtocolError('NOT_COORDINATOR')), true);
    assert.equal(await backoff.retry(new ProtocolError('COORDINATOR_NOT_AVAILABLE')), true);
  });

  void it('does not retry other errors, and does not wait for them', async () => {
    const clock = fakeClock();
    const backoff = new CoordinatorBackoff({ budgetMs: 1000, initialDelayMs: 10, maxDelayMs: 10, ...clock });
    assert.equal(await backoff.retry(new ProtocolError('GROUP_AUTHORIZATION_FAILED')), false);
    assert.equal(await backoff.retry(new Error('boom')), false);
    assert.deepEqual(clock.slept, []);
  });
});

/**
 * A group coordinator that answers JoinGroup with `joinErrors` first, then as a one-member
 * group would; everything else as a topic with one empty partition.
 */
function fakeCluster(joinErrors: readonly string[]): {
  internals: KafkaLogInternals;
  calls: string[];
} {
  const calls: string[] = [];
  const pending = [...joinErrors];
  let closed = false;
  const wire = {
    closed: false,
    async close() {
      closed = true;
    },
    async coordinatorRequest(_group: string, api: string): Promise<unknown> {
      calls.push(api);
      switch (api) {
        case 'JoinGroup': {
          const error = pending.shift();
          if (error !== undefined) throw new ProtocolError(error);
          return {
            memberId: 'm1',
            generationId: 1,
            leader: 'm1',
            members: [
              {
                memberId: 'm1',
                metadata: encodeConsumerProtocolSubscription({ version: 0, topics: ['orders'] }),
              },
            ],
          };
        }
        case 'SyncGroup':
          return {
            assignment: encodeConsumerProtocolAssignment({
              version: 0,
              assignedPartitions: [{ topic: 'orders', partitions: [0] }],
            }),
          };
        case 'OffsetFetch':
          return { groups: [{ topics: [] }] };
        default:
          return {};
      }
    },
    async topic() {
      return { partitionsCount: 1 };
    },
    async listOffsets(_topic: string, partitions: readonly number[]) {
      return new Map(partitions.map((p) => [p, 0]));
    },
    async fetch() {
      // A long poll that finds nothing: wait a little, as a broker would.
      await new Promise((resolve) => setTimeout(resolve, closed ? 0 : 5));
      return new Map();
    },
  } as unknown as KafkaWire;
  const internals: KafkaLogInternals = {
    options: resolveKafkaLogOptions({ brokers: ['fake:9092'], retryDelayMs: 1, heartbeatIntervalMs: 5 }),
    admin: wire,
    openWire: () => wire,
    wireTopic: (topic) => topic,
    heraldTopic: (topic) => topic,
    wireGroup: (group) => group,
    decode: () => {
      throw new Error('nothing to decode');
    },
  };
  return { internals, calls };
}

function subscription(internals: KafkaLogInternals, sessionTimeoutMs: number): KafkaSubscription {
  return new KafkaSubscription(
    internals,
    {
      group: 'billing.payments',
      topics: ['orders'],
      startAt: 'earliest',
      sessionTimeoutMs,
      maxBufferedEvents: 10,
      onRevoked: undefined,
      onAssigned: undefined,
      signal: undefined,
    },
    () => undefined,
  );
}

void describe('Kafka group join on a coordinator that is still loading', () => {
  void it('joins once the coordinator has loaded the group, instead of failing the first join', async () => {
    const { internals, calls } = fakeCluster([
      'COORDINATOR_LOAD_IN_PROGRESS',
      'COORDINATOR_LOAD_IN_PROGRESS',
      'NOT_COORDINATOR',
      'COORDINATOR_NOT_AVAILABLE',
    ]);
    const member = subscription(internals, 60_000);
    await member.start();
    try {
      assert.deepEqual(member.assignment(), [{ topic: 'orders', partition: 0 }]);
      assert.equal(calls.filter((api) => api === 'JoinGroup').length, 5);
    } finally {
      await member.close();
    }
  });

  void it('gives up with BACKEND_UNAVAILABLE once a session timeout passed without a coordinator', async () => {
    const sessionTimeoutMs = 60;
    const { internals, calls } = fakeCluster(
      Array.from({ length: 10_000 }, () => 'COORDINATOR_LOAD_IN_PROGRESS'),
    );
    const member = subscription(internals, sessionTimeoutMs);
    const started = performance.now();
    await assert.rejects(member.start(), (error: unknown) => {
      assert.ok(isHeraldError(error, 'BACKEND_UNAVAILABLE'), String(error));
      assert.match(error.message, /cannot join consumer group "billing.payments"/);
      return true;
    });
    assert.ok(
      performance.now() - started >= sessionTimeoutMs,
      'it kept trying for the whole session timeout',
    );
    assert.ok(calls.filter((api) => api === 'JoinGroup').length > 1);
  });

  void it('fails at once on an error a retry cannot fix', async () => {
    const { internals, calls } = fakeCluster(['GROUP_AUTHORIZATION_FAILED']);
    const member = subscription(internals, 60_000);
    await assert.rejects(member.start(), (error: unknown) => isHeraldError(error));
    assert.deepEqual(
      calls.filter((api) => api === 'JoinGroup'),
      ['JoinGroup'],
    );
  });
});
