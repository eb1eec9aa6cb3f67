// The embedded log's write path on /metrics: how many transactions it committed and how many
// WAL syncs it made, so a benchmark can report both per order (group commit at work).
import type { EventLog } from '@herald/core';
import { SqliteLog } from '@herald/sqlite';
import { Counter, type Registry } from 'prom-client';

/** Registers `herald_sqlite_transactions_total` and `herald_sqlite_syncs_total` when `log` is embedded. */
export function registerSqliteMetrics(log: EventLog, registry: Registry): void {
  if (!(log instanceof SqliteLog)) return;
  const sqlite = log;
  const total = (name: string, help: string, read: () => number) => {
    // A process that opens the system again (tests) counts the log it has now.
    registry.removeSingleMetric(name);
    return new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  total(
    'herald_sqlite_transactions_total',
    'Write transactions the embedded log committed.',
    () => sqlite.stats().transactions,
  );
  total(
    'herald_sqlite_syncs_total',
    "fdatasync calls on the embedded log's WAL (synchronous=full).",
    () => sqlite.stats().syncs,
  );
}
