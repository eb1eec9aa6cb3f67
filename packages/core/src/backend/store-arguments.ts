import { HeraldError } from '../errors.ts';

/*
 * The Store's argument rules, the same on every store: what a collection may be called, what a
 * document may be and how many documents a list may ask for. A store checks them before it
 * touches its database, so a bad argument is INVALID_ARGUMENT everywhere, never a database error.
 */

const COLLECTION = /^[A-Za-z0-9._-]{1,128}$/;

/** Throws `INVALID_ARGUMENT` unless `collection` is 1-128 letters, digits, `.`, `_` or `-`. */
export function checkCollection(collection: string): void {
  if (!COLLECTION.test(collection)) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `collection "${collection}" must be 1-128 of letters, digits, ".", "_", "-"`,
    );
  }
}

/**
 * A document as the JSON text a store keeps; throws `INVALID_ARGUMENT` for a value that has no
 * JSON form (`undefined`, a function, a symbol).
 */
export function encodeDocument(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new HeraldError('INVALID_ARGUMENT', 'a document must be JSON-serialisable');
  return text;
}

/** A list's `limit`, or null for no limit; throws `INVALID_ARGUMENT` unless it is a non-negative integer. */
export function checkListLimit(limit: number | undefined): number | null {
  if (limit === undefined) return null;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new HeraldError('INVALID_ARGUMENT', `limit must be a non-negative integer, got ${limit}`);
  }
  return limit;
}

/** Throws `INVALID_ARGUMENT` unless `pruneInbox` got a time (ms since the epoch) and a positive integer limit. */
export function checkPruneArguments(handledBefore: number, limit: number): void {
  if (!Number.isFinite(handledBefore)) {
    throw new HeraldError('INVALID_ARGUMENT', `handledBefore must be a time in ms, got ${handledBefore}`);
  }
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new HeraldError('INVALID_ARGUMENT', `limit must be a positive integer, got ${limit}`);
  }
}
