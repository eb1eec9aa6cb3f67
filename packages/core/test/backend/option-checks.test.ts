import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { checkKnownKeys, checkServerList, clientIdOption, positiveOption } from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';

function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error) => isHeraldError(error, 'INVALID_ARGUMENT') && error.message === message);
}

void describe('option checks', () => {
  void it('takes a positive integer or the default', () => {
    assert.equal(positiveOption('retryDelayMs', undefined, 250), 250);
    assert.equal(positiveOption('retryDelayMs', 10, 250), 10);
    refuses(() => positiveOption('retryDelayMs', 0, 250), 'retryDelayMs must be a positive integer, got 0');
    refuses(
      () => positiveOption('retryDelayMs', 1.5, 250),
      'retryDelayMs must be a positive integer, got 1.5',
    );
  });

  void it('defaults the client id to herald-<host>-<pid> and refuses one with spaces or too long', () => {
    assert.equal(clientIdOption(undefined), `herald-${hostname()}-${process.pid}`);
    assert.equal(clientIdOption('orders-1'), 'orders-1');
    refuses(() => clientIdOption('a b'), 'clientId must be 1 to 200 characters without spaces, got "a b"');
    refuses(
      () => clientIdOption('x'.repeat(201)),
      `clientId must be 1 to 200 characters without spaces, got "${'x'.repeat(201)}"`,
    );
    refuses(() => clientIdOption(7), 'clientId must be 1 to 200 characters without spaces, got 7');
  });

  void it('checks a server list, with or without a default port', () => {
    assert.deepEqual(checkServerList('brokers', 'broker', 'bootstrap broker', ['k1:9092', '[::1]:9093']), [
      'k1:9092',
      '[::1]:9093',
    ]);
    checkServerList('servers', 'server', 'NATS server', ['n1'], 4222);
    refuses(
      () => checkServerList('brokers', 'broker', 'bootstrap broker', []),
      'brokers must list at least one bootstrap broker as "host:port"',
    );
    refuses(
      () => checkServerList('brokers', 'broker', 'bootstrap broker', ['k1']),
      'broker "k1" is not "host:port"',
    );
    refuses(
      () => checkServerList('servers', 'server', 'NATS server', ['n1:0'], 4222),
      'server "n1:0" is not "host:port"',
    );
    refuses(
      () => checkServerList('servers', 'server', 'NATS server', [5], 4222),
      'server 5 is not "host:port"',
    );
  });

  void it('refuses keys an options object does not pass on, listing those it does', () => {
    const known = new Set(['ca', 'cert']);
    checkKnownKeys('tls', { ca: 'x' }, known);
    refuses(
      () => checkKnownKeys('tls', { ca: 'x', cafile: 'y' }, known),
      'tls option "cafile" is not supported; use ca, cert',
    );
  });
});
