import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MINIMUM_NODE, REPOSITORY_REMEDY, unsupportedNodeMessage } from '@herald/core/node-version';

describe('the Node.js version check', () => {
  it('accepts the minimum, later patches, minors and majors', () => {
    for (const version of ['24.6.0', '24.6.1', '24.21.0', '25.0.0', '26.1.0']) {
      assert.equal(unsupportedNodeMessage('herald', { version }), undefined, version);
    }
  });

  it('refuses an older Node.js in one sentence naming the version needed, the version running and how to get Node.js 24', () => {
    for (const version of ['20.20.2', '22.22.0', '23.11.0', '24.5.9', '24.0.0']) {
      const message = unsupportedNodeMessage('@herald/sqlite', { version });
      assert.equal(
        message,
        `@herald/sqlite needs Node.js 24.6.0 or newer and this is Node.js ${version}: ` +
          'install Node.js 24 LTS from https://nodejs.org/ (or with a version manager: `nvm install 24`) and run it again.',
      );
    }
  });

  it('says what to do inside the repository when told to', () => {
    assert.equal(
      unsupportedNodeMessage('npm start', { version: '20.20.2', remedy: REPOSITORY_REMEDY }),
      'npm start needs Node.js 24.6.0 or newer and this is Node.js 20.20.2: inside the Herald repository run it through ' +
        'npm or npx, which use the Node.js 24 that `npm install` pins, elsewhere install Node.js 24 LTS from https://nodejs.org/.',
    );
  });

  it('is in step with engines.node of the repository, which every built package gets', () => {
    const root = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    assert.equal(root.engines.node, `>=${MINIMUM_NODE[0]}.${MINIMUM_NODE[1]}`);
    assert.equal(MINIMUM_NODE[2], 0);
  });
});
