import { HeraldError, isHeraldError } from '../errors.ts';
import type { HeraldErrorCode } from '../errors.ts';

/** What a backend makes of one of its client's failures: Herald's code, and what to add to the message and details. */
export interface FailureClass {
  readonly code: HeraldErrorCode;
  /** What went wrong, after the message's colon. Default: the failure's own message. */
  readonly reason?: string;
  /** Added to the caller's details, e.g. the broker's own error name. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A failure of a backend's client as a HeraldError: a HeraldError passes through unchanged (it
 * was already classified where it was thrown); anything else is classified by the backend and
 * becomes `<message>: <reason>` with the failure kept as `cause`.
 *
 * @example
 * throw wrapBackendFailure(error, `cannot create topic "${name}"`, { topic: name }, classifyKafkaFailure);
 */
export function wrapBackendFailure(
  error: unknown,
  message: string,
  details: Readonly<Record<string, unknown>>,
  classify: (error: unknown) => FailureClass,
): HeraldError {
  if (isHeraldError(error)) return error;
  const failure = classify(error);
  const reason = failure.reason ?? (error instanceof Error ? error.message : String(error));
  return new HeraldError(failure.code, `${message}: ${reason}`, {
    cause: error,
    details: failure.details === undefined ? details : { ...details, ...failure.details },
  });
}

/** A backend's `toHeraldError`: a client failure, what was being done, and the details to keep. */
export type FailureWrapper = (
  error: unknown,
  message: string,
  details?: Readonly<Record<string, unknown>>,
) => HeraldError;

/**
 * {@link wrapBackendFailure} with the backend's classification built in, as the backend's own
 * `toHeraldError`.
 *
 * @example export const toHeraldError = failureWrapper(classifyNatsFailure);
 */
export function failureWrapper(classify: (error: unknown) => FailureClass): FailureWrapper {
  return (error, message, details = {}) => wrapBackendFailure(error, message, details, classify);
}
