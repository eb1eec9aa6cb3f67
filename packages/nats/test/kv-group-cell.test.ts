import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { addMember, coordinationStep, emptyGroup } from '@herald/core/backend';
import type { MemberRecord } from '@herald/core/backend';
import { parseGroup, parseOffset, serializeGroup } from '../src/kv-group-cell.ts';

const counts = new Map([['orders', 4]]);

function member(heartbeatAt: number, sessionTimeoutMs = 1000): MemberRecord {
  return { clientId: 'test', topics: ['orders'], sessionTimeoutMs, heartbeatAt, joinedAt: heartbeatAt };
}

describe('nats: the group cell in a KV key', () => {
  it('round-trips through JSON and refuses records Herald did not write with CORRUPT_LOG', () => {
    const record = coordinationStep(addMember(emptyGroup('billing'), 'a', member(0)), 'a', 0, counts).record;
    assert.deepEqual(parseGroup(serializeGroup(record)), record);
    const corrupt = (error: unknown) => isHeraldError(error, 'CORRUPT_LOG');
    assert.throws(() => parseGroup(new TextEncoder().encode('{"version":2}')), corrupt);
    assert.throws(() => parseGroup(new TextEncoder().encode('not json')), corrupt);
    assert.throws(() => parseOffset(new TextEncoder().encode('{"committed":"3","epoch":1}')), corrupt);
  });
});
