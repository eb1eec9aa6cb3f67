import pg from 'pg';
import { HeraldError } from '@herald/core';

/**
 * Statements with their values written in as literals, so that several can travel in one
 * simple-protocol query: one round trip, however many statements. `pg` sends a parameterised
 * statement on its own and waits for its answer before the next, so a store transaction of
 * seven statements cost seven round trips, a socket write and a wake-up each in both processes
 * (docs/adr/0038-postgres-transactions-in-fewer-round-trips.md).
 *
 * Only Herald's own statements are inlined: their text is fixed, with `$1`…`$n` placeholders and
 * no `$` anywhere else, and identifiers come from validated schema names.
 */

/**
 * `sql` with each `$n` replaced by the literal of `params[n - 1]`. Throws `INVALID_ARGUMENT` for
 * a value that has no literal (see {@link sqlLiteral}).
 */
export function inlineSql(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, position: string) => {
    const index = Number(position) - 1;
    if (index < 0 || index >= params.length) {
      throw new HeraldError('INVALID_ARGUMENT', `statement placeholder $${position} has no value`);
    }
    return sqlLiteral(params[index]);
  });
}

/**
 * The SQL literal of a value: `NULL`; a number or bigint as written; a boolean; a string quoted
 * by `pg`'s `escapeLiteral` (an `E'…'` string when it holds a backslash, so it reads the same
 * whatever `standard_conforming_strings` says); bytes as `decode('<hex>', 'hex')`. A string
 * holding U+0000 is refused: the simple protocol sends the query as a C string, and Postgres
 * cannot store that character in text anyway.
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') {
    if (value.includes('\u0000')) {
      throw new HeraldError('INVALID_ARGUMENT', 'Postgres cannot store U+0000 in text');
    }
    return pg.escapeLiteral(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new HeraldError('INVALID_ARGUMENT', `not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Uint8Array) {
    return `decode('${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}', 'hex')`;
  }
  throw new HeraldError('INVALID_ARGUMENT', `no SQL literal for a value of type ${typeof value}`);
}
