import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { clientOptions, resolveKafkaLogOptions } from '../src/kafka-log-options.ts';
import type { KafkaLogOptions } from '../src/kafka-log-options.ts';

function invalid(options: unknown, mentions: RegExp): void {
  assert.throws(
    () => resolveKafkaLogOptions(options as KafkaLogOptions),
    (error: unknown) => isHeraldError(error, 'INVALID_ARGUMENT') && mentions.test(error.message),
  );
}

void describe('Kafka log options', () => {
  void it('fills in defaults: 1 MiB records, a 60 s rebalance timeout, a client id naming host and process', () => {
    const resolved = resolveKafkaLogOptions({ brokers: ['k1:9092'] });
    assert.equal(resolved.maxRecordBytes, 1_048_576);
    assert.equal(resolved.rebalanceTimeoutMs, 60_000);
    assert.equal(resolved.namespace, '');
    assert.match(resolved.clientId, new RegExp(`^herald-.+-${process.pid}$`));
    assert.equal(resolved.heartbeatIntervalMs, undefined);
  });

  void it('passes only allow-listed TLS and SASL settings through to the client', () => {
    const options = clientOptions(
      resolveKafkaLogOptions({
        brokers: ['k1:9093'],
        clientId: 'orders',
        tls: { ca: 'PEM', rejectUnauthorized: true, servername: 'kafka.internal' },
        sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' },
      }),
    );
    assert.deepEqual(options.tls, { ca: 'PEM', rejectUnauthorized: true, servername: 'kafka.internal' });
    assert.deepEqual(options.sasl, { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' });
    assert.deepEqual(options.bootstrapBrokers, ['k1:9093']);
    assert.equal(options.clientId, 'orders');
    assert.equal(options.autocreateTopics, false, 'a typo in a topic name never creates a topic');
  });

  void it('refuses unknown or incomplete settings with INVALID_ARGUMENT', () => {
    invalid({ brokers: [] }, /at least one bootstrap broker/);
    invalid({ brokers: ['k1'] }, /not "host:port"/);
    invalid({ brokers: ['k1:9092'], clientId: 'has space' }, /clientId/);
    invalid({ brokers: ['k1:9092'], namespace: 'a/b' }, /namespace/);
    invalid({ brokers: ['k1:9092'], maxRecordBytes: 0 }, /maxRecordBytes/);
    invalid(
      { brokers: ['k1:9092'], tls: { checkServerIdentity: () => undefined } },
      /tls option "checkServerIdentity"/,
    );
    invalid({ brokers: ['k1:9092'], sasl: { mechanism: 'GSSAPI' } }, /sasl.mechanism/);
    invalid({ brokers: ['k1:9092'], sasl: { mechanism: 'PLAIN', username: 'u' } }, /username and a password/);
    invalid({ brokers: ['k1:9092'], sasl: { mechanism: 'OAUTHBEARER' } }, /token/);
    invalid(
      { brokers: ['k1:9092'], sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
      /clear text/,
    );
    invalid(
      { brokers: ['k1:9092'], sasl: { mechanism: 'PLAIN', username: 'u', password: 'p', realm: 'x' } },
      /"realm"/,
    );
  });
});
