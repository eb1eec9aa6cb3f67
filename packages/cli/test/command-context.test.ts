import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { createCommandContext } from '../src/command-context.ts';

const contextWith = (env: Record<string, string | undefined>) =>
  createCommandContext({ stdout: () => undefined, stderr: () => undefined, env });

void describe('the store a command uses', () => {
  void it('is HERALD_STORE when set, else the sqlite: log’s own file, else none', () => {
    assert.equal(contextWith({}).storeUrl, 'sqlite:./.herald/herald.db');
    assert.equal(contextWith({ HERALD_LOG: 'sqlite:./x.db' }).storeUrl, 'sqlite:./x.db');
    assert.equal(contextWith({ HERALD_LOG: 'memory:' }).storeUrl, undefined);
    assert.equal(contextWith({ HERALD_LOG: 'kafka://127.0.0.1:9092', HERALD_STORE: '' }).storeUrl, undefined);
    assert.equal(
      contextWith({ HERALD_LOG: 'kafka://127.0.0.1:9092', HERALD_STORE: 'postgres://db/shop' }).storeUrl,
      'postgres://db/shop',
    );
  });

  void it('gives a log without a store none, and names HERALD_STORE without its password when it cannot be opened', async () => {
    assert.equal(
      await contextWith({ HERALD_LOG: 'memory:' }).withStore(async (_, store) => store),
      undefined,
    );
    await assert.rejects(
      contextWith({ HERALD_LOG: 'memory:', HERALD_STORE: 'mysql://root:hunter2@db/shop' }).withStore(
        async () => undefined,
      ),
      (error: unknown) =>
        isHeraldError(error, 'INVALID_ARGUMENT') &&
        error.message.startsWith('cannot open HERALD_STORE=mysql://root:***@db/shop') &&
        !error.message.includes('hunter2'),
    );
  });
});
