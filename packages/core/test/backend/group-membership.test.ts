import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '../../src/errors.ts';
import { GroupMembership, commitRequest, compareAndSetCell, removeMember } from '../../src/backend/index.ts';
import type { CompareAndSetStore, GroupCell, GroupRecord } from '../../src/backend/index.ts';

/** A compare-and-set store in memory; `interfere` runs before each compare-and-set, as another writer would. */
function memoryStore(interfere?: (store: { record: GroupRecord | undefined; revision: number }) => void) {
  const state = { record: undefined as GroupRecord | undefined, revision: 0, writes: 0 };
  const store: CompareAndSetStore = {
    group: 'billing',
    read: () =>
      Promise.resolve(
        state.record === undefined ? undefined : { record: state.record, revision: state.revision },
      ),
    compareAndSet: (record, revision) => {
      interfere?.(state);
      if (revision !== state.revision) return Promise.resolve(false);
      state.record = record;
      state.revision++;
      state.writes++;
      return Promise.resolve(true);
    },
    partitionCounts: (topics) => Promise.resolve(new Map(topics.map((t) => [t, 2]))),
  };
  return { state, cell: compareAndSetCell(store) };
}

const settings = (clientId: string) => ({
  group: 'billing',
  clientId,
  topics: ['orders'],
  sessionTimeoutMs: 300,
});

function member(cell: GroupCell, clientId = 'test'): GroupMembership {
  return new GroupMembership(cell, settings(clientId));
}

describe('group membership: one member over a group cell', () => {
  it('joins, claims every partition at its first heartbeat and renews its lease', async () => {
    const { state, cell } = memoryStore();
    const a = member(cell);
    await a.join();
    assert.equal(a.heartbeatMs, 100);
    const round = await a.coordinate({ beat: true });
    assert.equal(round.kind, 'coordinated');
    assert.deepEqual(round.kind === 'coordinated' ? round.claims.map((c) => [c.partition, c.epoch]) : [], [
      [0, 1],
      [1, 1],
    ]);
    assert.equal(state.record?.members[a.memberId]?.clientId, 'test');
  });

  it('writes nothing on a round that changes nothing before its heartbeat is due', async () => {
    const { state, cell } = memoryStore();
    const a = member(cell);
    await a.join();
    await a.coordinate({ beat: true });
    const writes = state.writes;
    const idle = await a.coordinate({ beat: false });
    assert.equal(idle.kind, 'coordinated');
    assert.equal(state.writes, writes);
    a.heartbeatNow();
    await a.coordinate({ beat: false });
    assert.equal(state.writes, writes + 1, 'a due heartbeat is written');
  });

  it('writes nothing when the process may not write (it is stalled)', async () => {
    const { state, cell } = memoryStore();
    const a = member(cell);
    await a.join();
    const writes = state.writes;
    assert.equal((await a.coordinate({ beat: true, mayWrite: () => false })).kind, 'skipped');
    assert.equal(state.writes, writes);
  });

  it('finds itself expired once removed, and rejoins as a new member', async () => {
    const { state, cell } = memoryStore();
    const a = member(cell);
    await a.join();
    const first = a.memberId;
    state.record = removeMember(state.record!, first);
    assert.equal((await a.coordinate({ beat: true })).kind, 'expired');
    await a.rejoin();
    assert.notEqual(a.memberId, first);
    assert.deepEqual(Object.keys(state.record.members), [a.memberId]);
  });

  it('hands a partition over: the owner releases it, then the newcomer claims it under a new epoch', async () => {
    const { state, cell } = memoryStore();
    const a = member(cell, 'a');
    const b = member(cell, 'b');
    await a.join();
    await a.coordinate({ beat: true });
    await b.join();
    const waiting = await b.coordinate({ beat: true });
    assert.deepEqual(waiting.kind === 'coordinated' ? waiting.claims : undefined, []);
    const moving = state.record!.partitions.filter((p) => p.target === b.memberId);
    assert.equal(await a.release(moving), true);
    assert.equal(await a.release(moving), false, 'released already');
    const claimed = await b.coordinate({ beat: true });
    assert.deepEqual(
      claimed.kind === 'coordinated' ? claimed.claims.map((c) => c.owner) : undefined,
      moving.map(() => b.memberId),
    );
    await b.leave();
    assert.deepEqual(Object.keys(state.record!.members), [a.memberId]);
  });

  it('retries a step another writer beat it to, then gives up with CONFLICT', async () => {
    let interfering = 0;
    const { state, cell } = memoryStore((s) => {
      if (interfering-- > 0) s.revision++;
    });
    const a = member(cell);
    await a.join();
    interfering = 1;
    assert.equal((await a.coordinate({ beat: true })).kind, 'coordinated');
    assert.equal(state.writes, 2, 'the heartbeat went through on its second attempt');
    interfering = Infinity;
    await assert.rejects(a.coordinate({ beat: true }), (error) => isHeraldError(error, 'CONFLICT'));
  });

  it('refuses a commit it does not own with FENCED, naming group and partition', () => {
    const { cell } = memoryStore();
    const error = member(cell).fenced({ topic: 'orders', partition: 1 });
    assert.equal(error.code, 'FENCED');
    assert.deepEqual(error.details, { group: 'billing', topic: 'orders', partition: 1 });
  });
});

describe('commit requests and revocations', () => {
  it('commits the offset after an event, and offsets as given', () => {
    const event = { topic: 'orders', partition: 2, offset: 9 } as Parameters<typeof commitRequest>[0];
    assert.deepEqual(commitRequest(event), {
      positions: [{ topic: 'orders', partition: 2, offset: 10 }],
      event,
    });
    const list = [{ topic: 'orders', partition: 0, offset: 3 }];
    assert.deepEqual(commitRequest(list), { positions: list, event: undefined });
    assert.throws(
      () => commitRequest([{ topic: 'orders', partition: 0, offset: -1 }]),
      (error) => isHeraldError(error, 'INVALID_ARGUMENT'),
    );
  });
});
