// Reconciliation: what the load generator was told against what the system recorded. Every lab
// request has its own customer id (`<run>-<index>`), so each request can be matched with the
// order the system wrote for it — also when the client never got an answer.

/** What the system's own files say about one order after the run. Times are epoch ms. */
export interface OrderRecord {
  readonly orderId: string;
  readonly customerId: string;
  /** `failed`: the REST chain gave up before a decision (the client got an error). */
  readonly status: 'pending' | 'confirmed' | 'rejected' | 'failed';
  /** When the final status was decided; null while pending or failed. */
  readonly decidedAt: number | null;
  /** Everything that follows the decision happened (domain `isSettled`): customer told, money settled. */
  readonly settled: boolean;
  /** When the last fact about the order happened. */
  readonly lastFactAt: number | null;
  /** Distinct messages the customer received about the order's outcome. */
  readonly messages: number;
  /** Events about the order parked in dead-letter topics (REST: repairs left for an operator). */
  readonly deadLetters: number;
}

/** One request of a run as reconciliation needs it. */
export interface ReconcileRequest {
  readonly index: number;
  /** 2xx: the system accepted the order. */
  readonly accepted: boolean;
  /** The order id in the answer, when there was one. */
  readonly orderId: string | undefined;
}

/** The outcome of reconciling one run. Every count is of orders (requests). */
export interface Reconciliation {
  readonly offered: number;
  /** Answered 2xx. */
  readonly accepted: number;
  /** Orders the system recorded for the run's requests (log records, or order rows for REST). */
  readonly records: number;
  /** Accepted orders that reached a final status (confirmed or rejected). */
  readonly final: number;
  /** Accepted, but no record or no final status after the drain: the orders a customer lost. */
  readonly lost: number;
  /** Accepted and final, but not settled (e.g. the customer was never told). */
  readonly unsettled: number;
  /** Requests not accepted (errors, timeouts, refused) whose order was decided anyway. */
  readonly unacknowledged: number;
  /** Extra outcome messages beyond one per order (a customer told twice). */
  readonly duplicateEffects: number;
  readonly deadLetters: number;
  /** Orders that did not go through end to end: not accepted, lost, or accepted but unsettled. */
  readonly failedOrders: number;
}

/**
 * Matches requests with records. `records` maps each request index to the system's record of
 * the order placed for it, if any.
 */
export function reconcile(
  requests: readonly ReconcileRequest[],
  records: ReadonlyMap<number, OrderRecord>,
): Reconciliation {
  let accepted = 0;
  let recorded = 0;
  let final = 0;
  let lost = 0;
  let unsettled = 0;
  let unacknowledged = 0;
  let duplicateEffects = 0;
  let deadLetters = 0;
  let notAccepted = 0;
  for (const request of requests) {
    const record = records.get(request.index);
    if (record !== undefined) {
      recorded++;
      duplicateEffects += Math.max(0, record.messages - 1);
      deadLetters += record.deadLetters;
    }
    const decided = record !== undefined && (record.status === 'confirmed' || record.status === 'rejected');
    if (!request.accepted) {
      notAccepted++;
      if (decided) unacknowledged++;
      continue;
    }
    accepted++;
    if (
      record === undefined ||
      !decided ||
      (request.orderId !== undefined && request.orderId !== record.orderId)
    ) {
      lost++;
      continue;
    }
    final++;
    if (!record.settled) unsettled++;
  }
  return {
    offered: requests.length,
    accepted,
    records: recorded,
    final,
    lost,
    unsettled,
    unacknowledged,
    duplicateEffects,
    deadLetters,
    failedOrders: notAccepted + lost + unsettled,
  };
}
