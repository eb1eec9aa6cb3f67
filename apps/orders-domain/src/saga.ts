// The order saga: it collects the outcomes of inventory, payment and fraud for one order and
// decides. All three positive → confirmed. The first negative → rejected at once, with that
// step's reason; outcomes arriving later are still recorded but never change the decision.
// Compensations (release stock, void the authorization) are the other services' reaction to
// the rejection, not the saga's job. An order still undecided when its decision deadline comes
// is rejected with `decision-timeout` (timeOut); outcomes after that are recorded the same way,
// and the services compensate what a late step did, because they read the rejection after the
// placement (same key, same topic).

/** How long an order may wait for its decision by default: HERALD_DECISION_TIMEOUT_MS. */
export const DEFAULT_DECISION_TIMEOUT_MS = 30_000;

export type SagaStep = 'inventory' | 'payment' | 'fraud';

/** The steps whose outcomes the saga collects. */
export const SAGA_STEPS: readonly SagaStep[] = ['inventory', 'payment', 'fraud'];

/** Why an order was rejected: which step said no, or that none decided in time. */
export type RejectionReason = 'out-of-stock' | 'payment-declined' | 'fraud-suspected' | 'decision-timeout';

/** The reason a rejection caused by each step gives (a timeout gives `decision-timeout`). */
export const REJECTION_REASON: Readonly<Record<SagaStep, Exclude<RejectionReason, 'decision-timeout'>>> = {
  inventory: 'out-of-stock',
  payment: 'payment-declined',
  fraud: 'fraud-suspected',
};

/** One step's answer: yes, or no with why. */
export type StepOutcome =
  | { readonly step: SagaStep; readonly ok: true }
  | { readonly step: SagaStep; readonly ok: false; readonly detail: string };

/** The saga's decision about an order. */
export type SagaDecision =
  | { readonly status: 'confirmed' }
  | { readonly status: 'rejected'; readonly reason: RejectionReason; readonly detail: string };

/** What the saga knows about one order. */
export interface SagaState {
  readonly orderId: string;
  readonly outcomes: Readonly<Partial<Record<SagaStep, 'ok' | 'failed'>>>;
  readonly decision: SagaDecision | null;
}

/** The saga of an order before any outcome. */
export function startSaga(orderId: string): SagaState {
  return { orderId, outcomes: {}, decision: null };
}

/**
 * Records one outcome. Returns the new state and the decision this outcome caused, if any (at
 * most one outcome of a saga ever causes one). A step's first outcome counts; a repeat is ignored.
 */
export function recordOutcome(
  state: SagaState,
  outcome: StepOutcome,
): { readonly state: SagaState; readonly decided: SagaDecision | null } {
  if (state.outcomes[outcome.step] !== undefined) return { state, decided: null };
  const outcomes = { ...state.outcomes, [outcome.step]: outcome.ok ? 'ok' : 'failed' } as const;
  if (state.decision !== null) return { state: { ...state, outcomes }, decided: null };
  let decided: SagaDecision | null = null;
  if (!outcome.ok) {
    decided = { status: 'rejected', reason: REJECTION_REASON[outcome.step], detail: outcome.detail };
  } else if (SAGA_STEPS.every((step) => outcomes[step] === 'ok')) {
    decided = { status: 'confirmed' };
  }
  return { state: { ...state, outcomes, decision: decided }, decided };
}

/** The steps that had not answered yet. */
export function missingSteps(state: SagaState): SagaStep[] {
  return SAGA_STEPS.filter((step) => state.outcomes[step] === undefined);
}

/**
 * The decision deadline came. An undecided saga is rejected with `decision-timeout`, naming the
 * steps it still waited for; a decided one is left as it is (the deadline's timer raced the
 * decision), and `decided` is null.
 */
export function timeOut(
  state: SagaState,
  timeoutMs: number,
): { readonly state: SagaState; readonly decided: SagaDecision | null } {
  if (state.decision !== null) return { state, decided: null };
  const waiting = missingSteps(state);
  const decided: SagaDecision = {
    status: 'rejected',
    reason: 'decision-timeout',
    detail: `no decision within ${timeoutMs / 1000} s${waiting.length > 0 ? `: no answer from ${waiting.join(', ')}` : ''}`,
  };
  return { state: { ...state, decision: decided }, decided };
}
