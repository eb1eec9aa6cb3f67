import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { resolveNatsLogOptions } from '../src/nats-log-options.ts';

function invalidArgument(error: unknown): boolean {
  assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), String(error));
  return true;
}

describe('nats: log options', () => {
  it('fills in defaults', () => {
    const resolved = resolveNatsLogOptions({ servers: ['n1'] });
    assert.equal(resolved.namespace, '');
    assert.equal(resolved.replicas, 1);
    assert.equal(resolved.storage, 'file');
    assert.equal(resolved.duplicateWindowMs, 120_000);
    assert.match(resolved.clientId, /^herald-/);
  });

  it('refuses options that cannot work with INVALID_ARGUMENT', () => {
    for (const options of [
      { servers: [] },
      { servers: ['n1:99999'] },
      { servers: ['n1'], namespace: 'has.dot' },
      { servers: ['n1'], namespace: 'x'.repeat(65) },
      { servers: ['n1'], clientId: 'has space' },
      { servers: ['n1'], replicas: 2 },
      { servers: ['n1'], user: 'u' },
      { servers: ['n1'], token: 't', user: 'u', pass: 'p' },
      { servers: ['n1'], requestTimeoutMs: 0 },
      { servers: ['n1'], tls: { insecure: true } },
    ]) {
      assert.throws(() => resolveNatsLogOptions(options as never), invalidArgument, JSON.stringify(options));
    }
  });
});
