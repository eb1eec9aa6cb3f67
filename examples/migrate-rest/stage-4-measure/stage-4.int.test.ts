// Stage 4: the measurement of both versions, run briefly. Short runs prove that it measures
// what the guide says; the numbers themselves are recorded in the guide from a longer run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { measure } from './measure.ts';

describe('stage 4: measuring both versions', () => {
  it('finds duplicates in the polling version under the mail fault and none in the migrated one', async () => {
    // The job's first tick comes after every request was answered, so one batch holds every
    // user and the failure of user 5's e-mail makes the job send users 1–4 theirs again.
    const [rest, events] = await measure({ rate: 10, durationMs: 1000, pollMs: 1500, failEvery: 5 });
    assert.equal(rest!.requestErrors, 0);
    assert.equal(events!.requestErrors, 0);
    assert.equal(rest!.notDone, 0, 'the job finishes every sign-up in the end');
    assert.ok(rest!.duplicated >= 4, `users 1–4 got a second e-mail, not ${rest!.duplicated}`);
    assert.equal(events!.notDone, 0, 'the consumers finish every sign-up');
    assert.equal(events!.duplicated, 0, 'and retry only the failed step of the failed user');
    assert.equal(events!.untilDoneMs.count, 10);
  });

  it('prints the comparison as a table from the command line', async () => {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        join(import.meta.dirname, 'measure.ts'),
        ...['--rate', '10', '--duration-ms', '500', '--poll-ms', '200', '--fail-every', '0'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let printed = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.match(printed, /^\| version \| requests \| errors \|/m);
    assert.match(printed, /^\| rest \+ polling job \| 5 \| 0 \| \d+ \/ \d+ \| \d+ \/ \d+ \| 0 \| 0 \|$/m);
    assert.match(printed, /^\| outbox \+ consumers \| 5 \| 0 \| \d+ \/ \d+ \| \d+ \/ \d+ \| 0 \| 0 \|$/m);
  });

  it('refuses a bad option with a clear message', async () => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', join(import.meta.dirname, 'measure.ts'), '--rate', 'fast'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, /--rate must be a non-negative number, not fast/);
  });
});
