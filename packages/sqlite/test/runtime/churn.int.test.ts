// Faults F21, F4 and F5 on the embedded log (the test: @herald/testing's describeChurn): the
// members share one SQLite file (log and store), and their wall clocks jump besides, since the
// group's leases are wall-clock times.
import { type ChurnRound, describeChurn } from '@herald/testing';
import { tempDatabase } from './fixtures/orders.ts';

const ROUNDS: readonly ChurnRound[] = [
  'kill',
  'pause',
  'clock-all',
  'leave-join',
  'kill',
  'clock-ahead',
  'pause',
  'join-leave',
  'clock-behind',
  'kill',
  'pause',
  'leave-join',
  'clock-all',
  'kill',
  'pause',
  'join-leave',
  'clock-behind',
  'clock-ahead',
];

describeChurn({
  name: 'the embedded log',
  rounds: ROUNDS,
  sessionTimeoutMs: 1_000,
  stallTimeoutMs: 60_000,
  timeoutMs: 600_000,
  setup() {
    const db = tempDatabase();
    const url = `sqlite:${db.path}`;
    return Promise.resolve({
      logUrl: url,
      storeUrl: url,
      [Symbol.asyncDispose]: () => Promise.resolve(db[Symbol.dispose]()),
    });
  },
});
