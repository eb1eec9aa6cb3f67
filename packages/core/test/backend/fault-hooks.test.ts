import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faultHooksFor } from '@herald/core/backend';
import type { FaultableSubscription } from '@herald/core/backend';

function recorder(log: string[], name: string): FaultableSubscription {
  return {
    crash: () => log.push(`${name} crash`),
    freeze: () => log.push(`${name} freeze`),
    thaw: () => log.push(`${name} thaw`),
  };
}

void describe('fault hooks', () => {
  void it('crash stops the client, crashes every subscription, then drops the connections', () => {
    const log: string[] = [];
    const subscriptions = new Set([recorder(log, 'a'), recorder(log, 'b')]);
    const hooks = faultHooksFor(subscriptions, {
      stop: () => (log.push('stop'), true),
      drop: () => log.push('drop'),
    });
    hooks.crash();
    assert.deepEqual(log, ['stop', 'a crash', 'b crash', 'drop']);
  });

  void it('crash does nothing more when the client was already down', () => {
    const log: string[] = [];
    const hooks = faultHooksFor([recorder(log, 'a')], {
      stop: () => (log.push('stop'), false),
      drop: () => log.push('drop'),
    });
    hooks.crash();
    assert.deepEqual(log, ['stop']);
  });

  void it('freeze and thaw reach the subscriptions open when they run', () => {
    const log: string[] = [];
    const subscriptions = new Set<FaultableSubscription>();
    const hooks = faultHooksFor(subscriptions, { stop: () => true, drop: () => undefined });
    subscriptions.add(recorder(log, 'a'));
    hooks.freeze();
    subscriptions.add(recorder(log, 'b'));
    hooks.thaw();
    assert.deepEqual(log, ['a freeze', 'a thaw', 'b thaw']);
  });
});
