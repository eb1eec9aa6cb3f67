import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromEnv } from '../src/config.ts';

describe('HERALD_STORE', () => {
  it('is unset by default: the state lives in the embedded log file', () => {
    assert.equal(configFromEnv({}).storeUrl, undefined);
    assert.equal(configFromEnv({ HERALD_STORE: '' }).storeUrl, undefined);
  });

  it('takes a postgres:// or postgresql:// URL', () => {
    const url = 'postgres://app@db:5432/shop?schemaPrefix=eu_';
    assert.equal(configFromEnv({ HERALD_STORE: url }).storeUrl, url);
    assert.equal(configFromEnv({ HERALD_STORE: 'postgresql://db/shop' }).storeUrl, 'postgresql://db/shop');
  });

  it('refuses anything else, naming the variable and hiding the password', () => {
    assert.throws(
      () => configFromEnv({ HERALD_STORE: 'mysql://root:hunter2@db/shop' }),
      (error: Error) =>
        error.message.startsWith('HERALD_STORE must be a postgres:// URL') &&
        !error.message.includes('hunter2'),
    );
  });
});
