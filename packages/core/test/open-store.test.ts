import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '../src/errors.ts';
import { openMemoryLog } from '../src/memory-log.ts';
import { openStore } from '../src/open-store.ts';
import { redactUrl } from '../src/redact-url.ts';

void describe('openStore', () => {
  void it('refuses URLs no store handles with INVALID_ARGUMENT, listing the schemes it knows and hiding passwords', async () => {
    await using log = await openMemoryLog();
    for (const url of ['', 'orders.db', 'memory:', 'mysql://root:hunter2@db/shop', 'redis://localhost']) {
      await assert.rejects(openStore(url, { log }), (error: unknown) => {
        assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), `${url}: ${String(error)}`);
        assert.match(error.message, /sqlite:, postgres:, postgresql:/);
        assert.ok(!error.message.includes('hunter2'), error.message);
        return true;
      });
    }
  });

  void it('refuses a sqlite: store on a log that is not the embedded log of that file', async () => {
    await using log = await openMemoryLog();
    await assert.rejects(
      openStore('sqlite:./.herald/herald.db', { log }),
      (error: unknown) =>
        isHeraldError(error, 'INVALID_ARGUMENT') && /embedded log's file/.test(error.message),
    );
  });
});

void describe('redactUrl', () => {
  void it('hides a password and leaves a URL without one as it is', () => {
    assert.equal(redactUrl('postgres://app:s3cret@db/shop'), 'postgres://app:***@db/shop');
    assert.equal(redactUrl('kafka://127.0.0.1:19092?namespace=x-'), 'kafka://127.0.0.1:19092?namespace=x-');
    assert.ok(!redactUrl('kafka://app:s3cret@k1:9092,k2:9092').includes('s3cret'));
  });
});
