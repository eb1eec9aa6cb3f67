// Errors across the thread boundary: a HeraldError keeps its code (so a retryable failure still
// answers 503 in the API thread), anything else its message.
import { HERALD_ERROR_CODES, HeraldError, type HeraldErrorCode, isHeraldError } from '@herald/core';
import type { CarriedError } from './engine-protocol.ts';

export function carry(error: unknown): CarriedError {
  if (isHeraldError(error)) return { code: error.code, message: error.message };
  return { message: error instanceof Error ? error.message : String(error) };
}

export function revive(carried: CarriedError): Error {
  return carried.code !== undefined && Object.hasOwn(HERALD_ERROR_CODES, carried.code)
    ? new HeraldError(carried.code as HeraldErrorCode, carried.message)
    : new Error(carried.message);
}
