import type { CloudEvent } from '@herald/core';
import { EVENTS_TABLE_DDL, EVENT_ATTRIBUTE_COLUMNS, encodeEventRow } from '@herald/sqlite';
import { DatabaseSync } from 'node:sqlite';
import type { SQLInputValue, StatementSync } from 'node:sqlite';

/**
 * The baseline of the log benchmark: plain `node:sqlite` writing and reading the log's own
 * events table with the same pragmas, and nothing else — no partition bookkeeping, no
 * envelope checks, no consumer groups, no decoding. What the log does beyond this is its
 * overhead.
 *
 * Everything schema-specific comes from `@herald/sqlite` — the DDL, the event columns, the
 * column values of an event — so the baseline follows the log's schema by itself; the
 * benchmark checks before timing that both sides store identical rows.
 */

/** Column names after `topic_id, partition, offset, timestamp`, in insert order. */
const COLUMNS = [...EVENT_ATTRIBUTE_COLUMNS.split(',').map((column) => column.trim()), 'size'];

/** The column values of one event, in {@link COLUMNS} order, computed before timing starts. */
export interface RawRow {
  readonly values: readonly SQLInputValue[];
}

/** The row the log stores for `event`, as values for the raw INSERT. */
export function rawRowOf(event: CloudEvent): RawRow {
  const row = encodeEventRow(event) as unknown as Readonly<Record<string, SQLInputValue>>;
  return {
    values: COLUMNS.map((column) => {
      const value = row[column];
      if (value === undefined) throw new Error(`encodeEventRow gives no value for column "${column}"`);
      return value;
    }),
  };
}

/** The `topic_id` the baseline writes under; the log's first topic gets the same id. */
const TOPIC_ID = 1;
const PARTITION = 0;

/** Raw inserts and reads of the events table of one database file. */
export class RawSqliteLog {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #select: StatementSync;
  #nextOffset = 0;

  constructor(path: string, synchronous: 'full' | 'normal') {
    this.#db = new DatabaseSync(path, { timeout: 5000 });
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.#db.exec(EVENTS_TABLE_DDL);
    this.#insert = this.#db.prepare(
      `INSERT INTO herald_events (topic_id, partition, offset, timestamp, ${COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ${COLUMNS.map(() => '?').join(', ')})`,
    );
    // Every column of the row, as arrays (the cheapest shape node:sqlite returns).
    this.#select = this.#db.prepare(
      `SELECT offset, timestamp, ${EVENT_ATTRIBUTE_COLUMNS} FROM herald_events
       WHERE topic_id = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?`,
    );
    this.#select.setReturnArrays(true);
  }

  /** Inserts `rows` in one transaction (one fsync under FULL). */
  insertBatch(rows: readonly RawRow[]): void {
    const timestamp = Date.now();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const row of rows)
        this.#insert.run(TOPIC_ID, PARTITION, this.#nextOffset++, timestamp, ...row.values);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Inserts one row in its own transaction: one fsync per event under FULL. */
  insertOne(row: RawRow): void {
    this.insertBatch([row]);
  }

  /**
   * Up to `limit` rows of the partition from offset `from`, in offset order; returns the offset
   * after the last row read, or `from` when there was none.
   */
  read(from: number, limit: number): { readonly count: number; readonly next: number } {
    const rows = this.#select.all(TOPIC_ID, PARTITION, from, limit) as unknown as (readonly unknown[])[];
    const last = rows[rows.length - 1];
    return { count: rows.length, next: last === undefined ? from : (last[0] as number) + 1 };
  }

  close(): void {
    this.#db.close();
  }
}
