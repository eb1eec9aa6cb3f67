import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromEnv } from '../src/config.ts';
import { faultsSchemaOf, parsePostgresStoreUrl, redactUrl, schemaOf } from '../src/store-url.ts';

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

describe('parsePostgresStoreUrl', () => {
  it('takes schemaPrefix out and passes every other parameter to pg', () => {
    assert.deepEqual(parsePostgresStoreUrl('postgres://app@db:5432/shop?schemaPrefix=eu_&sslmode=require'), {
      connectionString: 'postgres://app@db:5432/shop?sslmode=require',
      schemaPrefix: 'eu_',
    });
    assert.deepEqual(parsePostgresStoreUrl('postgres://app@db/shop'), {
      connectionString: 'postgres://app@db/shop',
      schemaPrefix: '',
    });
  });

  it('refuses a prefix Postgres schema names cannot start with', () => {
    for (const prefix of ['EU_', '1eu', 'eu-', 'a'.repeat(37)]) {
      assert.throws(() => parsePostgresStoreUrl(`postgres://db/shop?schemaPrefix=${prefix}`), /schemaPrefix/);
    }
  });

  it('names one schema per service and one for the shared fault settings', () => {
    assert.equal(schemaOf('eu_', 'payment'), 'eu_payment');
    assert.equal(schemaOf('', 'orders'), 'orders');
    assert.equal(faultsSchemaOf('eu_'), 'eu_faults');
  });
});

describe('redactUrl', () => {
  it('hides a password and leaves a URL without one as it is', () => {
    assert.equal(redactUrl('postgres://app:s3cret@db/shop'), 'postgres://app:***@db/shop');
    assert.equal(redactUrl('kafka://127.0.0.1:19092?namespace=x-'), 'kafka://127.0.0.1:19092?namespace=x-');
    assert.ok(!redactUrl('kafka://app:s3cret@k1:9092,k2:9092').includes('s3cret'));
  });
});
