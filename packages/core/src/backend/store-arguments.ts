import { HeraldError } from '../errors.ts';
import type { StateRecord } from '../runtime/store.ts';

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

/** Default and largest page of `Store.exportState`. */
export const STATE_PAGE_SIZE = 500;
const MAX_STATE_PAGE_SIZE = 10_000;

/** `exportState`'s page size; throws `INVALID_ARGUMENT` unless it is an integer from 1 to 10,000. */
export function checkStatePageSize(pageSize: number | undefined): number {
  const size = pageSize ?? STATE_PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_STATE_PAGE_SIZE) {
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `pageSize must be an integer from 1 to ${MAX_STATE_PAGE_SIZE}, got ${String(pageSize)}`,
    );
  }
  return size;
}

/**
 * Checks every record `importState` is given before any is written, so a bad one stores nothing:
 * throws `INVALID_ARGUMENT` naming the first bad record (by index, never by value).
 */
export function checkStateRecords(records: readonly StateRecord[]): void {
  for (const [index, record] of records.entries()) {
    const bad = (why: string): never => {
      throw new HeraldError('INVALID_ARGUMENT', `state record ${index}: ${why}`, { details: { index } });
    };
    if (record === null || typeof record !== 'object') bad('not an object');
    if (record.kind === 'document') {
      checkCollection(record.collection);
      if (typeof record.id !== 'string' || record.id === '') bad('a document needs a non-empty id');
      if (JSON.stringify(record.value) === undefined) bad('a document must be JSON-serialisable');
    } else if (record.kind === 'inbox') {
      if (typeof record.group !== 'string' || record.group === '') bad('an inbox entry needs a group');
      if (typeof record.eventId !== 'string' || record.eventId === '')
        bad('an inbox entry needs an event id');
      if (typeof record.fingerprint !== 'string') bad('an inbox entry needs a fingerprint');
      if (!Number.isSafeInteger(record.handledAt) || record.handledAt < 0)
        bad('handledAt must be ms since the epoch');
    } else {
      bad(`unknown kind ${JSON.stringify((record as { kind?: unknown }).kind)}`);
    }
  }
}
