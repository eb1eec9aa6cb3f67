import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeraldError } from '@herald/core';
import { parseKafkaUrl } from '../src/kafka-url.ts';

function rejects(url: string, mentions: RegExp): void {
  assert.throws(
    () => parseKafkaUrl(url),
    (error: unknown) => {
      assert.ok(
        isHeraldError(error, 'INVALID_ARGUMENT'),
        `INVALID_ARGUMENT for ${url}, got ${String(error)}`,
      );
      assert.match(error.message, mentions);
      return true;
    },
  );
}

void describe('Kafka log URLs', () => {
  void it('names one or more bootstrap brokers, defaulting the port to 9092', () => {
    assert.deepEqual(parseKafkaUrl('kafka://127.0.0.1:19092'), { brokers: ['127.0.0.1:19092'] });
    assert.deepEqual(parseKafkaUrl('kafka://k1,k2:9093,[::1]:9094/'), {
      brokers: ['k1:9092', 'k2:9093', '[::1]:9094'],
    });
  });

  void it('reads clientId, namespace, tls and the numeric settings from the query', () => {
    assert.deepEqual(
      parseKafkaUrl(
        'kafka://k1:9092?clientId=orders-1&namespace=staging.&tls=true&heartbeatIntervalMs=500&rebalanceTimeoutMs=30000&maxRecordBytes=2097152&retries=5',
      ),
      {
        brokers: ['k1:9092'],
        clientId: 'orders-1',
        namespace: 'staging.',
        tls: {},
        heartbeatIntervalMs: 500,
        rebalanceTimeoutMs: 30_000,
        maxRecordBytes: 2_097_152,
        retries: 5,
      },
    );
  });

  void it('takes SASL credentials from the URL, percent-decoded, with the mechanism named', () => {
    assert.deepEqual(parseKafkaUrl('kafka://svc%40orders:p%3Ass%2Fw@k1:9093?sasl=scram-sha-512&tls=true'), {
      brokers: ['k1:9093'],
      tls: {},
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc@orders', password: 'p:ss/w' },
    });
    assert.equal(parseKafkaUrl('kafka://u:p@k1?sasl=plain&tls=true').sasl?.mechanism, 'PLAIN');
    assert.equal(parseKafkaUrl('kafka://u:p@k1?sasl=plain&insecureSasl=true').sasl?.allowWithoutTls, true);
  });

  void it('refuses what it cannot honour with INVALID_ARGUMENT, never echoing a password', () => {
    rejects('sqlite:./x.db', /expected kafka:\/\//);
    rejects('kafka://', /no broker/);
    rejects('kafka://k1:0', /out of range/);
    rejects('kafka://k1:99999', /out of range/);
    rejects('kafka://k 1:9092', /not host\[:port\]/);
    rejects('kafka://k1/topic', /no path/);
    rejects('kafka://k1?topic=orders', /unknown option "topic"/);
    rejects('kafka://k1?tls=yes', /tls must be/);
    rejects('kafka://k1?retries=-1', /non-negative integer/);
    rejects('kafka://k1?sasl=gssapi', /sasl must be one of/);
    rejects('kafka://k1?sasl=plain', /needs user:password/);
    rejects('kafka://u:p@k1?sasl=plain', /clear text/);
    rejects('kafka://user@k1?sasl=plain', /user:password/);
    rejects('kafka://user:secret@k1', /credentials need a mechanism/);
    assert.throws(
      () => parseKafkaUrl('kafka://user:secret@k1?bogus=1'),
      (error: unknown) => error instanceof Error && !error.message.includes('secret'),
    );
  });
});
