import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { parseNatsUrl } from '../src/nats-url.ts';

function invalidArgument(error: unknown): boolean {
  assert.ok(isHeraldError(error, 'INVALID_ARGUMENT'), String(error));
  return true;
}

describe('nats: log URLs', () => {
  it('reads servers with the default port, IPv6 hosts and a trailing slash', () => {
    assert.deepEqual(parseNatsUrl('nats://localhost'), { servers: ['localhost:4222'] });
    assert.deepEqual(parseNatsUrl('nats://n1:4223,n2,[::1]:4224/'), {
      servers: ['n1:4223', 'n2:4222', '[::1]:4224'],
    });
    assert.deepEqual(parseNatsUrl('NATS://127.0.0.1:4222'), { servers: ['127.0.0.1:4222'] });
  });

  it('reads percent-encoded user and password, or a token', () => {
    assert.deepEqual(parseNatsUrl('nats://orders:p%40ss%3Aword@n1'), {
      servers: ['n1:4222'],
      user: 'orders',
      pass: 'p@ss:word',
    });
    assert.deepEqual(parseNatsUrl('nats://s3cr%2Ft@n1:4222'), { servers: ['n1:4222'], token: 's3cr/t' });
  });

  it('reads the options, numbers as numbers', () => {
    assert.deepEqual(
      parseNatsUrl(
        'nats://n1?namespace=staging&clientId=orders-1&tls=true&storage=memory&replicas=3&duplicateWindowMs=60000&connectTimeoutMs=2000&requestTimeoutMs=3000',
      ),
      {
        servers: ['n1:4222'],
        namespace: 'staging',
        clientId: 'orders-1',
        tls: true,
        storage: 'memory',
        replicas: 3,
        duplicateWindowMs: 60_000,
        connectTimeoutMs: 2000,
        requestTimeoutMs: 3000,
      },
    );
    assert.deepEqual(parseNatsUrl('nats://n1?tls=false'), { servers: ['n1:4222'] });
  });

  it('refuses anything else with INVALID_ARGUMENT, without showing the password', () => {
    for (const url of [
      'kafka://n1:9092',
      'nats://',
      'nats://n1/path',
      'nats://n1:0',
      'nats://n1:70000',
      'nats://bad host',
      'nats://n1?unknown=1',
      'nats://n1?tls=yes',
      'nats://n1?storage=disk',
      'nats://n1?replicas=-1',
      'nats://@n1',
      'nats://user:%zz@n1',
    ]) {
      assert.throws(() => parseNatsUrl(url), invalidArgument, url);
    }
    assert.throws(
      () => parseNatsUrl('nats://orders:topsecret@n1/path'),
      (error: unknown) => invalidArgument(error) && !(error as Error).message.includes('topsecret'),
    );
    assert.throws(
      () => parseNatsUrl('nats://topsecret@n1?bad=1'),
      (error: unknown) => invalidArgument(error) && !(error as Error).message.includes('topsecret'),
    );
  });
});
