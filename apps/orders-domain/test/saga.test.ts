import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type SagaState,
  type StepOutcome,
  missingSteps,
  recordOutcome,
  startSaga,
  timeOut,
} from '../src/saga.ts';

function run(outcomes: StepOutcome[]) {
  let state: SagaState = startSaga('o-1');
  const decisions = [];
  for (const outcome of outcomes) {
    const result = recordOutcome(state, outcome);
    state = result.state;
    if (result.decided !== null) decisions.push(result.decided);
  }
  return { state, decisions };
}

describe('the order saga', () => {
  it('confirms once all three steps succeeded, in any order', () => {
    const { decisions } = run([
      { step: 'fraud', ok: true },
      { step: 'payment', ok: true },
      { step: 'inventory', ok: true },
    ]);
    assert.deepEqual(decisions, [{ status: 'confirmed' }]);
  });

  it('rejects at the first failure with that step’s reason, and decides only once', () => {
    const { state, decisions } = run([
      { step: 'inventory', ok: true },
      { step: 'payment', ok: false, detail: 'card declined' },
      { step: 'fraud', ok: false, detail: 'blocked country' },
    ]);
    assert.deepEqual(decisions, [
      { status: 'rejected', reason: 'payment-declined', detail: 'card declined' },
    ]);
    assert.deepEqual(state.outcomes, { inventory: 'ok', payment: 'failed', fraud: 'failed' });
  });

  it('ignores a repeated outcome of a step', () => {
    const { state, decisions } = run([
      { step: 'inventory', ok: true },
      { step: 'inventory', ok: false, detail: 'late duplicate' },
      { step: 'payment', ok: true },
      { step: 'fraud', ok: true },
    ]);
    assert.deepEqual(decisions, [{ status: 'confirmed' }]);
    assert.equal(state.outcomes.inventory, 'ok');
  });
});

void describe('the saga on its decision deadline', () => {
  void it('rejects an undecided order with decision-timeout, naming the steps it still waits for', () => {
    const { state } = recordOutcome(startSaga('o-1'), { step: 'inventory', ok: true });
    const { state: timedOut, decided } = timeOut(state, 30_000);
    assert.deepEqual(decided, {
      status: 'rejected',
      reason: 'decision-timeout',
      detail: 'no decision within 30 s: no answer from payment, fraud',
    });
    assert.deepEqual(timedOut.decision, decided);
    assert.deepEqual(missingSteps(timedOut), ['payment', 'fraud']);
  });

  void it('leaves a decided order as it is, and records a late answer without a second decision', () => {
    const { state: decided } = recordOutcome(startSaga('o-2'), { step: 'payment', ok: false, detail: 'no' });
    assert.deepEqual(timeOut(decided, 30_000), { state: decided, decided: null });
    const { state: rejected } = timeOut(startSaga('o-3'), 1_500);
    const late = recordOutcome(rejected, { step: 'payment', ok: true });
    assert.equal(late.decided, null);
    assert.equal(late.state.outcomes.payment, 'ok');
    assert.equal(late.state.decision?.status, 'rejected');
  });
});
