import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPort, parseHostList, parseHostPort, readLogUrlQuery, splitLogUrl } from '@herald/core/backend';
import { HeraldError, isHeraldError } from '../../src/errors.ts';

const fail = (why: string): HeraldError => new HeraldError('INVALID_ARGUMENT', why);

function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error) => isHeraldError(error, 'INVALID_ARGUMENT') && error.message === message);
}

void describe('host and port', () => {
  void it('reads names, IPv4 and bracketed IPv6 hosts, the port defaulting when left out', () => {
    assert.deepEqual(parseHostPort('k1:9093', 9092), { host: 'k1', port: 9093, address: 'k1:9093' });
    assert.deepEqual(parseHostPort('10.0.0.1', 9092), {
      host: '10.0.0.1',
      port: 9092,
      address: '10.0.0.1:9092',
    });
    assert.deepEqual(parseHostPort('[::1]', 4222), { host: '::1', port: 4222, address: '[::1]:4222' });
    assert.equal(parseHostPort('[fe80::1]:7000')?.address, '[fe80::1]:7000');
  });

  void it('reads nothing from a malformed entry, or one without a port when there is no default', () => {
    for (const entry of ['k 1:9092', '::1:9092', 'k1:', 'k1:port', '', '[::1']) {
      assert.equal(parseHostPort(entry, 9092), undefined, entry);
    }
    assert.equal(parseHostPort('k1'), undefined);
  });

  void it('accepts ports 1 to 65535', () => {
    assert.ok(isPort(1) && isPort(65_535));
    assert.ok(!isPort(0) && !isPort(65_536));
  });
});

void describe('log URLs', () => {
  void it('cuts a URL into userinfo, hosts and query, allowing a trailing slash', () => {
    assert.deepEqual(splitLogUrl('kafka://u:p@k1,k2/?a=1', 'kafka', 'Kafka', fail), {
      userinfo: 'u:p',
      hosts: 'k1,k2',
      query: 'a=1',
    });
    assert.deepEqual(splitLogUrl('NATS://n1', 'nats', 'NATS', fail), {
      userinfo: undefined,
      hosts: 'n1',
      query: '',
    });
  });

  void it('refuses another scheme and a path', () => {
    refuses(
      () => splitLogUrl('sqlite:./x.db', 'kafka', 'Kafka', fail),
      'expected kafka://host:port[,host:port]',
    );
    refuses(() => splitLogUrl(42, 'nats', 'NATS', fail), 'expected nats://host:port[,host:port]');
    refuses(() => splitLogUrl('nats://n1/topic', 'nats', 'NATS', fail), 'a NATS URL has no path');
  });

  void it('reads the host list with the default port, refusing an empty list, a bad entry and a bad port', () => {
    assert.deepEqual(parseHostList('k1,k2:9093,[::1]', 9092, 'broker', fail), [
      'k1:9092',
      'k2:9093',
      '[::1]:9092',
    ]);
    refuses(() => parseHostList('', 9092, 'broker', fail), 'no broker named');
    refuses(() => parseHostList('k 1', 9092, 'broker', fail), '"k 1" is not host[:port]');
    refuses(() => parseHostList('k1:0', 9092, 'broker', fail), 'port 0 is out of range');
    refuses(() => parseHostList('k1:99999', 9092, 'broker', fail), 'port 99999 is out of range');
  });

  void it('reads the common options and hands the backend its own, in order', () => {
    const own: string[] = [];
    const options = readLogUrlQuery(
      'clientId=c&tls=true&retries=3&mode=x&tls=false&namespace=n&retries=4',
      ['retries'],
      ['mode'],
      (name, value) => own.push(`${name}=${value}`),
      fail,
    );
    assert.deepEqual(options, { clientId: 'c', namespace: 'n', tls: true, numbers: { retries: 4 } });
    assert.deepEqual(own, ['mode=x']);
  });

  void it('refuses an unknown option listing the known ones, a bad tls and a number that is not one', () => {
    const read = (query: string) => readLogUrlQuery(query, ['retries'], ['mode'], () => undefined, fail);
    refuses(() => read('topic=t'), 'unknown option "topic"; known: clientId, namespace, tls, mode, retries');
    refuses(() => read('tls=yes'), 'tls must be "true" or "false"');
    refuses(() => read('retries=-1'), 'retries must be a non-negative integer, got "-1"');
  });
});
