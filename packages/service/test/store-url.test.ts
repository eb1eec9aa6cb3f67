import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError, redactUrl } from '@herald/core';
import { parsePostgresStoreUrl, schemaOf } from '@herald/service';

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

  it('names one schema per service', () => {
    assert.equal(schemaOf('eu_', 'payment'), 'eu_payment');
    assert.equal(schemaOf('', 'orders'), 'orders');
  });

  it('refuses a URL that is not postgres:// with INVALID_ARGUMENT, never showing the password', () => {
    assert.throws(
      () => parsePostgresStoreUrl('mysql://root:hunter2@db/shop'),
      (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT') && !error.message.includes('hunter2'),
    );
  });
});

describe('redactUrl', () => {
  it('hides a password and leaves a URL without one as it is', () => {
    assert.equal(redactUrl('postgres://app:s3cret@db/shop'), 'postgres://app:***@db/shop');
    assert.equal(redactUrl('kafka://127.0.0.1:19092?namespace=x-'), 'kafka://127.0.0.1:19092?namespace=x-');
    assert.ok(!redactUrl('kafka://app:s3cret@k1:9092,k2:9092').includes('s3cret'));
  });
});
