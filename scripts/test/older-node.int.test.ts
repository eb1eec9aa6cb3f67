// `npm start` (scripts/start.js) on the system's older Node.js stops with one sentence. The
// repository's `herald` command is checked in packages/cli/test/herald.int.test.ts, the built
// packages' entry points in packaging.int.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPOSITORY_REMEDY, unsupportedNodeMessage } from '@herald/core/node-version';
import { REPOSITORY } from '../build/build-packages.ts';

/** The system's Node.js, older than Herald needs on the machines this suite was written for. */
const OLD_NODE = '/usr/bin/node';

const probe = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' });
const oldVersion = probe.status === 0 ? probe.stdout.trim().replace(/^v/, '') : undefined;
const skip =
  oldVersion === undefined
    ? `${OLD_NODE} is not there`
    : Number(oldVersion.split('.')[0]) >= 24
      ? `${OLD_NODE} is Node.js ${oldVersion}, not older than 24`
      : false;

it('npm start on an older Node.js stops with one sentence that says which Node.js it needs', { skip }, () => {
  const run = spawnSync(
    OLD_NODE,
    ['--disable-warning=ExperimentalWarning', join(REPOSITORY, 'scripts', 'start.js')],
    {
      cwd: REPOSITORY,
      encoding: 'utf8',
    },
  );
  assert.equal(run.status, 1);
  assert.equal(
    run.stderr,
    `${unsupportedNodeMessage('npm start', { version: oldVersion ?? '', remedy: REPOSITORY_REMEDY })}\n`,
  );
  assert.match(run.stderr, /^npm start needs Node\.js 24\.6\.0 or newer/);
  assert.equal(run.stdout, '');
});
