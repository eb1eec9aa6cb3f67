// Stage 4: the measurement of the versions, run briefly, on SQLite and on Postgres. Short runs
// prove that it measures what the guide says; the numbers themselves are recorded in the guide
// from a longer run, and nothing here depends on how fast the machine is.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { onEachDatabase } from '../fixtures.ts';
import { runCommand } from '../run-server.ts';
import { measure } from './measure.ts';

const runMeasure = (args: string[]) => runCommand(join(import.meta.dirname, 'measure.ts'), args);

onEachDatabase('stage 4: measuring the versions', (database) => {
  it('finds duplicates in the polling version under the mail fault, and none with the consumers in either process', async () => {
    // The job's first tick comes after every request was answered, so one batch holds every
    // user and the failure of user 5's e-mail makes the job send users 1–4 theirs again.
    const reports = await measure({
      rate: 10,
      durationMs: 1000,
      pollMs: 1500,
      failEvery: 5,
      consumers: 'both',
      postgres: database.postgres,
    });
    assert.deepEqual(
      reports.map((report) => report.version),
      ['rest + polling job', 'outbox + consumers, one process', 'outbox + consumers, own process'],
    );
    const [rest, ...migrated] = reports;
    assert.equal(rest!.requestErrors, 0);
    assert.equal(rest!.notDone, 0, 'the job finishes every sign-up in the end');
    assert.ok(rest!.duplicated >= 4, `users 1–4 got a second e-mail, not ${rest!.duplicated}`);
    for (const events of migrated) {
      assert.equal(events.requestErrors, 0, events.version);
      assert.equal(events.notDone, 0, `${events.version}: the consumers finish every sign-up`);
      assert.equal(
        events.duplicated,
        0,
        `${events.version}: they retry only the failed step of the failed user`,
      );
      assert.equal(events.untilDoneMs.count, 10, events.version);
    }
  });

  it('prints the comparison as a table from the command line', async () => {
    const { code, stdout, stderr } = await runMeasure([
      ...['--rate', '10', '--duration-ms', '500', '--poll-ms', '200', '--fail-every', '0'],
      ...(database.postgres === undefined ? [] : ['--postgres', database.postgres]),
    ]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      new RegExp(`^10 sign-ups/s for 500 ms on ${database.name === 'sqlite' ? 'SQLite' : 'Postgres'},`),
    );
    assert.match(stdout, /^\| version \| requests \| errors \|/m);
    for (const version of [
      'rest \\+ polling job',
      'outbox \\+ consumers, one process',
      'outbox \\+ consumers, own process',
    ]) {
      assert.match(
        stdout,
        new RegExp(`^\\| ${version} \\| 5 \\| 0 \\| \\d+ / \\d+ \\| \\d+ / \\d+ \\| 0 \\| 0 \\|$`, 'm'),
      );
    }
  });
});

describe('stage 4: the command line', () => {
  for (const [args, message] of [
    [['--rate', 'fast'], /--rate must be a non-negative number, not fast/],
    [
      ['--consumers', 'elsewhere'],
      /--consumers must be one of same-process, own-process, both, not elsewhere/,
    ],
    [['--postgres', 'mysql://localhost/app'], /--postgres must be a postgres:\/\/ URL/],
  ] as const) {
    it(`refuses ${args.join(' ')} with a clear message`, async () => {
      const { code, stderr } = await runMeasure([...args]);
      assert.equal(code, 2);
      assert.match(stderr, message);
    });
  }

  it('measures only the versions asked for', async () => {
    const { code, stdout, stderr } = await runMeasure([
      ...['--rate', '10', '--duration-ms', '200', '--poll-ms', '100', '--fail-every', '0'],
      ...['--consumers', 'own-process'],
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^\| rest \+ polling job \|/m);
    assert.match(stdout, /^\| outbox \+ consumers, own process \|/m);
    assert.doesNotMatch(stdout, /one process/);
  });
});
