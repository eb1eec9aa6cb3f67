// The repository's own entry points on the system's older Node.js: `npm start` (scripts/start.js)
// and the `herald` command (packages/cli/bin/herald.js) each stop with one sentence. The built
// packages' entry points are checked in packaging.int.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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

function sentence(what: string): string {
  return (
    `${what} needs Node.js 24.6.0 or newer and this is Node.js ${oldVersion ?? ''}: ` +
    'install Node.js 24 LTS from https://nodejs.org/ (or with a version manager: `nvm install 24`) and run it again.\n'
  );
}

describe('an older Node.js', { skip }, () => {
  it('npm start stops with one sentence that says which Node.js it needs', () => {
    const run = spawnSync(OLD_NODE, [join(REPOSITORY, 'scripts', 'start.js')], {
      cwd: REPOSITORY,
      encoding: 'utf8',
    });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, sentence('npm start (the Herald order system)'));
    assert.equal(run.stdout, '');
  });

  it('the herald command stops with one sentence that says which Node.js it needs', () => {
    const run = spawnSync(
      OLD_NODE,
      [join(REPOSITORY, 'packages', 'cli', 'bin', 'herald.js'), 'topics', 'list'],
      {
        cwd: REPOSITORY,
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 1);
    assert.equal(run.stderr, sentence('herald'));
    assert.equal(run.stdout, '');
  });
});
