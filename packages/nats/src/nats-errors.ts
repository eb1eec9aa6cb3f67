import type { HeraldErrorCode } from '@herald/core';
import { failureWrapper } from '@herald/core/backend';
import type { FailureClass, FailureWrapper } from '@herald/core/backend';
import { JetStreamApiError } from '@nats-io/jetstream';

/** JetStream API error codes Herald acts on (from the server's `errors.json`). */
export const JS_ERRORS = {
  streamNotFound: 10059,
  streamNameInUse: 10058,
  wrongLastSequence: 10071,
  messageTooLarge: 10054,
  noMessageFound: 10037,
} as const;

/** The JetStream API error code in `error` or its causes, if any. */
export function jetStreamCode(error: unknown): number | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof JetStreamApiError) return e.code;
  }
  return undefined;
}

/** True when a publish found no stream listening on its subject (NATS answers "no responders"). */
export function isNoResponders(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === 'NoRespondersError') return true;
    if (e.name === 'RequestError' && /no responders/i.test(e.message)) return true;
  }
  return false;
}

function named(error: unknown, ...names: string[]): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (names.includes(e.name)) return true;
  }
  return false;
}

/** True when a request timed out: whether the server acted on it is unknown. */
export function isTimeout(error: unknown): boolean {
  return named(error, 'TimeoutError');
}

/**
 * Maps a NATS failure to a HeraldError: a request that timed out is TIMEOUT (its outcome is
 * unknown), a full or failing store is BACKEND_UNAVAILABLE, a too large message TOO_LARGE, a
 * lost compare-and-set race CONFLICT; anything unrecognised is BACKEND_UNAVAILABLE, because the
 * server did not do what was asked. The original error stays as `cause`.
 */
export const toHeraldError: FailureWrapper = failureWrapper(classifyNatsFailure);

function classifyNatsFailure(error: unknown): FailureClass {
  const jsCode = jetStreamCode(error);
  let code: HeraldErrorCode = 'BACKEND_UNAVAILABLE';
  if (isTimeout(error)) code = 'TIMEOUT';
  else if (jsCode === JS_ERRORS.messageTooLarge) code = 'TOO_LARGE';
  else if (jsCode === JS_ERRORS.wrongLastSequence) code = 'CONFLICT';
  else if (
    named(error, 'InvalidArgumentError') &&
    error instanceof Error &&
    /max_payload/.test(error.message)
  ) {
    code = 'TOO_LARGE';
  }
  return jsCode === undefined ? { code } : { code, details: { jetStreamError: jsCode } };
}
