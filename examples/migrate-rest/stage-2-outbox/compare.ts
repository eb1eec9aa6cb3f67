// Stage 2: compares what the consumers did (the live tables) with what the polling job, running
// in shadow, would have done (the shadow_ tables). Every difference is either a bug of the job
// (a missed row, a duplicate) or of the consumers: read each one before removing the job.
//
// Run: ./node_modules/.bin/node examples/migrate-rest/stage-2-outbox/compare.ts <APP_DB>
//   (a SQLite file or a postgres:// URL) prints each difference and exits 1, or prints that
//   there is none and exits 0.
import { workflowOutputs } from '../stage-1-rest/database.ts';
import type { Sql } from '../stage-1-rest/sql-database.ts';
import { SHADOW, openDatabase } from './database.ts';

export interface Difference {
  readonly table: 'mailbox' | 'search_index' | 'points';
  /** The row, as JSON. */
  readonly row: string;
  /** How many times the consumers and the shadow job wrote it. */
  readonly consumers: number;
  readonly shadow: number;
}

function counts(rows: readonly object[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of rows) {
    const key = JSON.stringify(row);
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** Every row that the consumers and the shadow job did not write equally often. */
export async function compareOutputs(db: Sql): Promise<Difference[]> {
  const live = await workflowOutputs(db);
  const shadow = await workflowOutputs(db, SHADOW);
  const differences: Difference[] = [];
  for (const table of ['mailbox', 'search_index', 'points'] as const) {
    const ours = counts(live[table]);
    const theirs = counts(shadow[table]);
    for (const row of new Set([...ours.keys(), ...theirs.keys()])) {
      const consumers = ours.get(row) ?? 0;
      const inShadow = theirs.get(row) ?? 0;
      if (consumers !== inShadow) differences.push({ table, row, consumers, shadow: inShadow });
    }
  }
  return differences;
}

/** One line per difference, as the command prints it. */
export function formatDifferences(differences: readonly Difference[]): string {
  if (differences.length === 0) return 'no differences: the consumers did what the polling job did\n';
  return differences
    .map((d) => `${d.table} ${d.row}: consumers ${d.consumers}, polling job ${d.shadow}\n`)
    .join('');
}

if (import.meta.main) {
  const location = process.argv[2];
  if (location === undefined) {
    console.error('usage: compare.ts <APP_DB: a SQLite file or a postgres:// URL>');
    process.exit(2);
  }
  const db = await openDatabase(location);
  const differences = await compareOutputs(db);
  await db.close();
  process.stdout.write(formatDifferences(differences));
  process.exitCode = differences.length === 0 ? 0 : 1;
}
