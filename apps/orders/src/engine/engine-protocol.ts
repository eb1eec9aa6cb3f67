// The messages between the API thread of `npm start` and the engine thread that runs the
// services (see engine-thread.ts). Everything here crosses threads by structured clone: plain
// data only, errors as code + message.
import type { CatalogItem } from '@herald/orders-domain/catalog.ts';
import type { FraudRules } from '@herald/orders-domain/fraud.ts';
import type { PlacedOrder } from '@herald/orders-domain/order.ts';
import type { GatewayRules } from '@herald/orders-domain/payment.ts';
import type { ServiceName } from '@herald/orders-domain/topology.ts';
import type { ServiceState } from '@herald/service';
import type { PlacementOutcome } from '../services/orders/order-placement.ts';

/** What the engine thread opens: the serializable part of the system's options. */
export interface EngineSettings {
  readonly logUrl: string;
  readonly storeUrl?: string;
  readonly services: readonly ServiceName[];
  readonly catalog: readonly CatalogItem[];
  readonly fraudRules?: FraudRules;
  readonly gatewayRules?: GatewayRules;
  readonly partitions: number;
  readonly sessionTimeoutMs?: number;
  readonly decisionTimeoutMs?: number;
  readonly faultPollIntervalMs?: number;
  /** The service kit's health server, served from the engine thread. Default: none. */
  readonly health?: { readonly port?: number; readonly host?: string };
}

/** A service a process runs (in the API thread or the engine thread) and its state now. */
export interface ServiceStatus {
  readonly name: string;
  readonly groups: readonly string[];
  readonly state: ServiceState;
}

/** An error as it crosses threads: HeraldError's code (when it was one) and its message. */
export interface CarriedError {
  readonly code?: string;
  readonly message: string;
}

/**
 * API thread → engine thread, on the records channel (a MessagePort of its own, which the
 * engine's write queue polls synchronously between operations).
 */
export interface RecordRequest {
  readonly id: number;
  readonly order: PlacedOrder;
  readonly idempotencyKey: string | undefined;
  readonly fingerprint: string;
  /** The W3C trace context of the request's span (`traceparent`, `tracestate`). */
  readonly trace: Readonly<Record<string, string>>;
}

/** Engine thread → API thread, on the records channel. */
export type RecordReply =
  | { readonly id: number; readonly outcome: PlacementOutcome }
  | { readonly id: number; readonly error: CarriedError };

/** API thread → engine thread, on the worker's own port. */
export type EngineRequest =
  | { readonly kind: 'metrics'; readonly id: number }
  /** Fault injection: the thread fails as an error nothing caught would make it fail. */
  | { readonly kind: 'crash'; readonly id: number }
  | { readonly kind: 'stop'; readonly id: number };

/** Engine thread → API thread. */
export type EngineMessage =
  | { readonly kind: 'ready'; readonly services: readonly ServiceStatus[]; readonly healthUrl?: string }
  | { readonly kind: 'failed-to-start'; readonly error: CarriedError }
  | { readonly kind: 'services'; readonly services: readonly ServiceStatus[] }
  /** Order views that changed (committed) since the last such message. */
  | { readonly kind: 'views-changed'; readonly orderIds: readonly string[] }
  | {
      readonly kind: 'log';
      readonly level: 'info' | 'error';
      readonly message: string;
      readonly error?: CarriedError;
    }
  | { readonly kind: 'reply'; readonly id: number; readonly value: ReplyValue }
  | { readonly kind: 'reply-error'; readonly id: number; readonly error: CarriedError };

export type ReplyValue = { readonly contentType: string; readonly body: string } | null;
