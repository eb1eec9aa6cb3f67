import assert from 'node:assert/strict';
import type { StoredEvent, Subscription, TopicPartition } from '@herald/core';
import {
  describeGroups,
  tpKey,
  keysOf,
  disjoint,
  split,
  ownedBy,
  idsOf,
  appendKeyed,
  twoMembersHoldingEvents,
  LONG_SESSION_MS,
  QUIET_MS,
} from '../conformance-suite.ts';
import { collect, collectFor, sleep, waitFor, within } from '../fixtures.ts';
import type { ConformanceGroup, ConformanceTarget } from '../conformance-suite.ts';

/** The rebalancing group of the EventLog conformance suite: how members split partitions and take over from a member that closed or died. */
export const rebalancingConformance: ConformanceGroup = {
  title: 'rebalancing',
  define(suite) {
    suite.test(
      'splits partitions among members with no overlap, together covering all',
      async ({ env, log: producer }) => {
        await producer.createTopic('orders', { partitions: 6 });
        const members: Subscription[] = [];
        let overlapSeen = false;
        const sampler = setInterval(() => {
          if (!disjoint(members.map((m) => m.assignment()))) overlapSeen = true;
        }, 2);
        try {
          for (let i = 0; i < 3; i++) {
            const client = await env.open();
            members.push(await client.subscribe({ group: 'billing', topics: ['orders'] }));
          }
          await waitFor(() => split(members, 6), suite.deadlineMs, 'three members to split six partitions');
        } finally {
          clearInterval(sampler);
        }
        assert.equal(overlapSeen, false, 'no partition was ever assigned to two members at once');
        const assignments = members.map((m) => m.assignment());
        assert.ok(disjoint(assignments));
        assert.deepEqual(
          keysOf(assignments.flat()),
          keysOf(Array.from({ length: 6 }, (_, partition) => ({ topic: 'orders', partition }))),
        );

        const description = await producer.describeGroup('billing');
        assert.deepEqual(
          description.members.map((m) => m.memberId).sort(),
          members.map((m) => m.memberId).sort(),
        );
        for (const member of members) {
          const described = description.members.find((m) => m.memberId === member.memberId);
          assert.deepEqual(keysOf(described?.partitions ?? []), keysOf(member.assignment()));
        }

        const appended = await appendKeyed(producer, 'orders', 60, 12);
        const received = await Promise.all(
          members.map((member) => {
            const expected = appended.filter((a) =>
              member.assignment().some((tp) => tp.partition === a.result.partition),
            );
            return collect(member, expected.length, suite.deadlineMs);
          }),
        );
        for (const [i, events] of received.entries()) {
          assert.ok(
            events.every((e) => ownedBy(members[i]!, e)),
            `member ${i} got only its own partitions`,
          );
        }
        assert.deepEqual(idsOf(received.flat()), idsOf(appended.map((a) => a.event)));
        for (const member of members) assert.deepEqual(await collectFor(member, QUIET_MS / 2), []);
        await Promise.all(members.map((m) => m.close()));
      },
    );

    suite.test(
      'throws a failing onAssigned or onRevoked to the iterating consumer, and the partitions move all the same',
      async ({ env, log: a }) => {
        const b = await env.open();
        await a.createTopic('orders', { partitions: 2 });
        const assignedFailure = new Error('could not warm up');
        const revokedFailure = new Error('could not flush');
        let failAssigned = true;
        let failRevoked = true;
        const first = await a.subscribe({
          group: 'billing',
          topics: ['orders'],
          sessionTimeoutMs: LONG_SESSION_MS,
          onAssigned: () => {
            if (!failAssigned) return;
            failAssigned = false;
            throw assignedFailure;
          },
          onRevoked: () => {
            if (!failRevoked) return;
            failRevoked = false;
            throw revokedFailure;
          },
        });
        const events = first[Symbol.asyncIterator]();
        await assert.rejects(
          within(events.next(), suite.deadlineMs, 'the failure of onAssigned'),
          (error) => error === assignedFailure,
        );

        // Waiting already: on some backends the handover completes before subscribe() resolves.
        const revokedThrown = assert.rejects(
          within(events.next(), suite.deadlineMs, 'the failure of onRevoked'),
          (error) => error === revokedFailure,
        );
        await using second = await b.subscribe({
          group: 'billing',
          topics: ['orders'],
          sessionTimeoutMs: LONG_SESSION_MS,
        });
        await revokedThrown;
        await waitFor(
          () => split([first, second], 2),
          suite.deadlineMs,
          'the partitions to move despite the failure',
        );

        const appended = await appendKeyed(a, 'orders', 10, 10);
        const mine = appended.filter((x) =>
          first.assignment().some((tp) => tp.partition === x.result.partition),
        );
        const received = await collect(first, mine.length, suite.deadlineMs);
        assert.deepEqual(idsOf(received), idsOf(mine.map((x) => x.event)));
        assert.ok(
          received.every((e) => ownedBy(first, e)),
          'the failing member still consumes its partition',
        );
        await first.close();
      },
    );

    suite.test('hands the partitions of a closed member to the others at once', async ({ env, log: a }) => {
      const b = await env.open();
      await a.createTopic('orders', { partitions: 4 });
      const settings = { group: 'billing', topics: ['orders'], sessionTimeoutMs: LONG_SESSION_MS };
      const first = await a.subscribe(settings);
      await using second = await b.subscribe(settings);
      await waitFor(() => split([first, second], 4), suite.deadlineMs, 'two members to split the partitions');
      await first.close();
      // Well before the session timeout: closing must not wait for an expiry.
      await waitFor(
        () => second.assignment().length === 4,
        suite.deadlineMs,
        'the remaining member to own every partition',
      );
      assert.deepEqual(
        (await b.describeGroup('billing')).members.map((m) => m.memberId),
        [second.memberId],
      );
    });

    suite.test(
      'calls onRevoked before partitions move, and lets it commit the work in flight',
      async ({ env, log: a }) => {
        const b = await env.open();
        await a.createTopic('orders', { partitions: 4 });
        await appendKeyed(a, 'orders', 20);

        let handled: StoredEvent[] = [];
        let watching = true;
        const problems: string[] = [];
        const revokedCalls: TopicPartition[][] = [];
        // onRevoked needs its own subscription, which exists only once subscribe() resolves.
        const self: { subscription?: Subscription } = {};
        const checkNobodyElseOwns = async (
          revoked: readonly TopicPartition[],
          when: string,
        ): Promise<void> => {
          const description = await a.describeGroup('billing');
          for (const member of description.members) {
            if (member.memberId === self.subscription?.memberId) continue;
            const taken = member.partitions.filter((tp) => revoked.some((r) => tpKey(r) === tpKey(tp)));
            if (taken.length > 0)
              problems.push(`${when}: ${keysOf(taken).join(', ')} already owned by another member`);
          }
        };
        const first = await a.subscribe({
          group: 'billing',
          topics: ['orders'],
          sessionTimeoutMs: LONG_SESSION_MS,
          onRevoked: async (revoked) => {
            if (!watching) return;
            revokedCalls.push([...revoked]);
            try {
              await checkNobodyElseOwns(revoked, 'when onRevoked was called');
              const inFlight = handled.filter((e) =>
                revoked.some((tp) => tp.topic === e.topic && tp.partition === e.partition),
              );
              for (const event of inFlight) await self.subscription!.commit(event);
              handled = handled.filter((e) => !inFlight.includes(e));
              await sleep(150);
              await checkNobodyElseOwns(revoked, 'while onRevoked was running');
            } catch (error) {
              problems.push(`onRevoked failed: ${String(error)}`);
            }
          },
        });
        self.subscription = first;
        await waitFor(
          () => first.assignment().length === 4,
          suite.deadlineMs,
          'the first member to own every partition',
        );
        handled = await collect(first, 20, suite.deadlineMs);

        await using second = await b.subscribe({
          group: 'billing',
          topics: ['orders'],
          sessionTimeoutMs: LONG_SESSION_MS,
        });
        await waitFor(() => split([first, second], 4), suite.deadlineMs, 'the partitions to be split');
        watching = false;
        assert.deepEqual(problems, []);
        assert.ok(revokedCalls.length > 0, 'onRevoked was called');
        const revokedKeys = new Set(revokedCalls.flat().map(tpKey));
        for (const tp of second.assignment())
          assert.ok(revokedKeys.has(tpKey(tp)), `${tpKey(tp)} was revoked before it moved`);
        assert.ok(disjoint([first.assignment(), second.assignment()]));
        // What onRevoked committed is not delivered again to the new owner.
        assert.deepEqual(await collectFor(second, QUIET_MS), []);
      },
    );

    suite.test(
      'hands the partitions of a member that died to the survivors after its session timeout',
      { requires: ['faults'] },
      async ({ env, log: a, faults }) => {
        const b = await env.open();
        const { second, firstGot: doomedGot } = await twoMembersHoldingEvents(suite, a, b);
        await using survivor = second;

        faults!.crash();
        await waitFor(
          () => survivor.assignment().length === 4,
          suite.deadlineMs,
          'the survivor to take over every partition',
        );
        const redelivered = await collect(survivor, doomedGot.length, suite.deadlineMs);
        assert.deepEqual(
          idsOf(redelivered),
          idsOf(doomedGot),
          'what the dead member never committed is delivered again',
        );
        assert.deepEqual(await collectFor(survivor, QUIET_MS), []);
        assert.deepEqual(
          (await b.describeGroup('billing')).members.map((m) => m.memberId),
          [survivor.memberId],
        );
      },
    );
  },
};

/** Registers the rebalancing group alone for `target`, as `EventLog conformance: <name>: rebalancing`. */
export function describeRebalanceConformance(target: ConformanceTarget): void {
  describeGroups(`EventLog conformance: ${target.name}`, target, [rebalancingConformance]);
}
