// The simulated payment gateway's rules and its ledger. The gateway is deterministic: the token
// and the amount decide, and every operation is idempotent per order id (asking twice to
// authorize, capture or void one order charges, captures or voids it once).
import type { Currency } from './money.ts';

/** A token the gateway always declines. */
export const DECLINE_TOKEN = 'tok_decline';
/** A token whose card has expired: declined as well, with another reason. */
export const EXPIRED_TOKEN = 'tok_expired';

/** How the simulated gateway decides beyond the special tokens. */
export interface GatewayRules {
  /** Authorizations above this many minor units are declined. */
  readonly maxAmount: number;
}

/** Authorizations up to 1 000 000.00 in any currency. */
export const DEFAULT_GATEWAY_RULES: GatewayRules = { maxAmount: 1_000_000_00 };

export type DeclineReason = 'card-declined' | 'card-expired' | 'amount-exceeds-limit';

/** A request to hold `amount` on the card behind `token` for one order. */
export interface AuthorizationRequest {
  readonly orderId: string;
  readonly amount: number;
  readonly currency: Currency;
  readonly token: string;
}

export type AuthorizationDecision =
  | { readonly approved: true }
  | { readonly approved: false; readonly reason: DeclineReason; readonly detail: string };

/** Whether the card behind `token` pays `amount`. */
export function decideAuthorization(
  request: AuthorizationRequest,
  rules: GatewayRules,
): AuthorizationDecision {
  if (request.token === DECLINE_TOKEN) {
    return { approved: false, reason: 'card-declined', detail: 'the card issuer declined the payment' };
  }
  if (request.token === EXPIRED_TOKEN) {
    return { approved: false, reason: 'card-expired', detail: 'the card has expired' };
  }
  if (request.amount > rules.maxAmount) {
    return {
      approved: false,
      reason: 'amount-exceeds-limit',
      detail: `the amount exceeds the gateway's limit of ${rules.maxAmount} minor units`,
    };
  }
  return { approved: true };
}

/** The gateway's record of one order. */
export interface GatewayEntry {
  readonly orderId: string;
  readonly amount: number;
  readonly currency: Currency;
  readonly authorization:
    | { readonly status: 'authorized'; readonly authorizationId: string }
    | { readonly status: 'declined'; readonly reason: DeclineReason; readonly detail: string };
  readonly captured: boolean;
  readonly voided: boolean;
  /** How many requests reached the gateway for this order, repeats included. */
  readonly requests: number;
}

/** A request to the gateway about one order. */
export type GatewayOperation =
  | { readonly kind: 'authorize'; readonly request: AuthorizationRequest }
  | { readonly kind: 'capture'; readonly orderId: string }
  | { readonly kind: 'void'; readonly orderId: string };

/** The gateway's answer; `refused` for an operation the order's state does not allow. */
export type GatewayResponse =
  | { readonly status: 'authorized'; readonly authorizationId: string; readonly amount: number }
  | { readonly status: 'declined'; readonly reason: DeclineReason; readonly detail: string }
  | { readonly status: 'captured'; readonly authorizationId: string; readonly amount: number }
  | { readonly status: 'voided'; readonly authorizationId: string; readonly amount: number }
  | { readonly status: 'refused'; readonly detail: string };

/**
 * One request to the gateway: the entry it leaves and the answer. Idempotent per order id: a
 * repeated authorization returns the first answer (same authorization id, no second charge), a
 * repeated capture or void returns the same confirmation. Capturing a voided authorization or
 * voiding a captured one is refused.
 */
export function applyGatewayOperation(
  entry: GatewayEntry | undefined,
  operation: GatewayOperation,
  rules: GatewayRules,
): { readonly entry: GatewayEntry | undefined; readonly response: GatewayResponse } {
  if (operation.kind === 'authorize') {
    if (entry !== undefined)
      return { entry: { ...entry, requests: entry.requests + 1 }, response: answer(entry) };
    const { request } = operation;
    const decision = decideAuthorization(request, rules);
    const created: GatewayEntry = {
      orderId: request.orderId,
      amount: request.amount,
      currency: request.currency,
      authorization: decision.approved
        ? { status: 'authorized', authorizationId: authorizationIdOf(request.orderId) }
        : { status: 'declined', reason: decision.reason, detail: decision.detail },
      captured: false,
      voided: false,
      requests: 1,
    };
    return { entry: created, response: answer(created) };
  }
  if (entry === undefined || entry.authorization.status !== 'authorized') {
    return {
      entry,
      response: { status: 'refused', detail: `order ${operation.orderId} has no authorization` },
    };
  }
  const { authorizationId } = entry.authorization;
  const counted = { ...entry, requests: entry.requests + 1 };
  if (operation.kind === 'capture') {
    if (entry.voided)
      return { entry: counted, response: { status: 'refused', detail: 'the authorization was voided' } };
    return {
      entry: { ...counted, captured: true },
      response: { status: 'captured', authorizationId, amount: entry.amount },
    };
  }
  if (entry.captured)
    return { entry: counted, response: { status: 'refused', detail: 'the payment was captured' } };
  return {
    entry: { ...counted, voided: true },
    response: { status: 'voided', authorizationId, amount: entry.amount },
  };
}

/** The authorization id the gateway gives an order: derived from it, so a retry gets the same one. */
export function authorizationIdOf(orderId: string): string {
  return `auth_${orderId}`;
}

function answer(entry: GatewayEntry): GatewayResponse {
  return entry.authorization.status === 'authorized'
    ? { status: 'authorized', authorizationId: entry.authorization.authorizationId, amount: entry.amount }
    : { status: 'declined', reason: entry.authorization.reason, detail: entry.authorization.detail };
}
