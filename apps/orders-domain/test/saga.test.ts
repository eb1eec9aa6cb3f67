import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SagaState, type StepOutcome, recordOutcome, startSaga } from '../src/saga.ts';

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
