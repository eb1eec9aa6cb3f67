// A payment gateway outside the shop, simulated. It keeps its own ledger (a collection standing
// for the gateway's database) and is idempotent per order id, as real gateways are per
// idempotency key: the payment service may call it again after a crash or a lost answer, and
// the card is charged once. Faults injected into the payment service make it slow or flaky.
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Store } from '@herald/core';
import {
  type AuthorizationRequest,
  type GatewayEntry,
  type GatewayOperation,
  type GatewayResponse,
  type GatewayRules,
  applyGatewayOperation,
} from './payment.ts';
import { COLLECTIONS } from './topology.ts';
import type { FaultController } from './faults.ts';

// Both systems' gateway spans keep the scope `@herald/orders-app`, so trace queries that select
// them by scope find them whichever system made the call.
const tracer = trace.getTracer('@herald/orders-app');

/** The simulated gateway; its ledger is readable for tests and the lab (`entries`). */
export class SimulatedGateway {
  readonly #store: Store;
  readonly #rules: GatewayRules;
  readonly #faults: FaultController;

  constructor(store: Store, rules: GatewayRules, faults: FaultController) {
    this.#store = store;
    this.#rules = rules;
    this.#faults = faults;
  }

  authorize(
    request: AuthorizationRequest,
    idempotencyKey: string,
    signal?: AbortSignal,
  ): Promise<GatewayResponse> {
    return this.#call({ kind: 'authorize', request }, idempotencyKey, signal);
  }

  capture(orderId: string, idempotencyKey: string, signal?: AbortSignal): Promise<GatewayResponse> {
    return this.#call({ kind: 'capture', orderId }, idempotencyKey, signal);
  }

  void(orderId: string, idempotencyKey: string, signal?: AbortSignal): Promise<GatewayResponse> {
    return this.#call({ kind: 'void', orderId }, idempotencyKey, signal);
  }

  /** Every order the gateway has a record of. */
  async entries(): Promise<GatewayEntry[]> {
    return (await this.#store.list<GatewayEntry>(COLLECTIONS.gateway)).map((r) => r.value);
  }

  async #call(
    operation: GatewayOperation,
    idempotencyKey: string,
    signal?: AbortSignal,
  ): Promise<GatewayResponse> {
    const orderId = operation.kind === 'authorize' ? operation.request.orderId : operation.orderId;
    return tracer.startActiveSpan(
      `payment-gateway ${operation.kind}`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'herald.order_id': orderId, 'herald.idempotency_key': idempotencyKey },
      },
      async (span) => {
        try {
          // The network and the gateway's own latency, and its transient failures.
          await this.#faults.perturb('payment', signal);
          const response = await this.#store.transaction(async (tx) => {
            const entry = await tx.get<GatewayEntry>(COLLECTIONS.gateway, orderId);
            const result = applyGatewayOperation(entry, operation, this.#rules);
            if (result.entry !== undefined) await tx.put(COLLECTIONS.gateway, orderId, result.entry);
            return result.response;
          });
          span.setAttribute('herald.gateway_status', response.status);
          return response;
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }
}
