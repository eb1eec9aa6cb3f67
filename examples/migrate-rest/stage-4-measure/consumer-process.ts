// Stage 4: the migrated version's consumers in a process of their own, as measure.ts runs them
// with `--consumers own-process`: the API's process saves sign-ups and relays the outbox, this
// one runs the three consumer groups on the same Herald log file and the same application
// database, with the measurement's fault. It prints `consuming` once they run; SIGTERM, or the
// end of its standard input (the measurement gone), stops it after the events under way.
//
// Run by measure.ts with APP_DB (a SQLite file or a postgres:// URL), HERALD_LOG_FILE and
// FAIL_EVERY.
import { databaseSteps } from '../stage-1-rest/poller.ts';
import { createConsumers } from '../stage-2-outbox/consumers.ts';
import { openDatabase } from '../stage-2-outbox/database.ts';
import { openHerald } from '../stage-2-outbox/herald.ts';
import { RETRY_DELAY_MS, faulty } from './measure.ts';

const required = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) {
    console.error(`consumer-process.ts needs ${name}`);
    process.exit(2);
  }
  return value;
};

const db = await openDatabase(required('APP_DB'));
const steps = faulty(databaseSteps(db), Number(process.env['FAIL_EVERY'] ?? 0));
const herald = await openHerald({
  db,
  logFile: required('HERALD_LOG_FILE'),
  consumers: (log, store) => createConsumers({ log, store, db, steps, retryDelayMs: RETRY_DELAY_MS }),
});
console.log('consuming');

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> =>
  (stopping ??= (async () => {
    await herald.close();
    await db.close();
    process.stdin.destroy();
  })());
process.once('SIGTERM', () => void stop());
// The measurement holds this pipe open: when it ends, by its stop or by its death, so does this process.
process.stdin.on('end', () => void stop()).resume();
