import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NatsNames, escapeToken } from '../src/nats-names.ts';

describe('nats: names on the server', () => {
  it('escapes names into one token, keeping plain names readable', () => {
    assert.equal(escapeToken('orders'), 'orders');
    assert.equal(escapeToken('orders.dead-letter'), 'orders_ddead-letter');
    assert.equal(escapeToken('a_b'), 'a__b');
    assert.equal(escapeToken('billing/ü'), 'billing_2F_C3_BC');
    for (const name of ['x', 'a.b_c-D', 'has space', '∑', 'd', '_d', '.', '..']) {
      assert.match(escapeToken(name), /^[A-Za-z0-9_-]+$/, name);
    }
  });

  it('never gives two different names the same token', () => {
    const names = [
      'a.b',
      'a_db',
      'a_b',
      'a__b',
      'a._b',
      'a_.b',
      'a_d',
      'a.',
      '_',
      '__',
      '.',
      'Ù',
      '_D9',
      'a_2F',
      'a/',
    ];
    const tokens = names.map(escapeToken);
    assert.equal(new Set(tokens).size, names.length, tokens.join(' '));
  });

  it('names one stream and one subject per partition, with and without a namespace', () => {
    const plain = new NatsNames('');
    assert.equal(plain.stream('orders', 3), 'HERALD_orders_3');
    assert.equal(plain.subject('orders.dead-letter', 0), 'herald.orders_ddead-letter.0');
    const spaced = new NatsNames('staging');
    assert.equal(spaced.stream('orders', 0), 'HERALD_staging_orders_0');
    assert.equal(spaced.subject('orders', 0), 'herald.staging.orders.0');
    assert.equal(spaced.allSubjects(), 'herald.staging.>');
    assert.equal(spaced.groupKey('billing.v1'), 'staging.g.billing_dv1');
    assert.equal(spaced.offsetKey('billing', 'orders', 2), 'staging.o.billing.orders.2');
    assert.equal(plain.topicKeys(), '*');
    assert.equal(spaced.topicKeys(), 'staging.*');
  });

  it('fits any valid topic name into a stream name of at most 255 characters, without collisions', () => {
    const names = new NatsNames('x'.repeat(64));
    const long = '_'.repeat(249);
    const longer = `${'_'.repeat(248)}.`;
    for (const topic of [long, longer]) {
      assert.ok(names.stream(topic, 9999).length <= 255, topic);
      assert.match(names.stream(topic, 9999), /^HERALD_x{64}__h[0-9a-f]{48}_9999$/);
    }
    assert.notEqual(names.stream(long, 0), names.stream(longer, 0));
    assert.equal(names.stream('orders', 0), `HERALD_${'x'.repeat(64)}_orders_0`);
  });
});
