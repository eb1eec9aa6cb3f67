import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscribeSettings } from '@herald/core/backend';
import { isHeraldError } from '../../src/errors.ts';
import type { HeraldErrorCode } from '../../src/errors.ts';
import type { SubscribeOptions } from '../../src/event-log.ts';

function heraldError(code: HeraldErrorCode, message?: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isHeraldError(error, code), `expected ${code}, got ${String(error)}`);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

const base: SubscribeOptions = { group: 'billing.invoices', topics: ['orders'] };

void describe('subscribeSettings', () => {
  void it('fills in the contract defaults: earliest, a 10 s session, 500 buffered events', () => {
    const settings = subscribeSettings(base);
    assert.equal(settings.group, 'billing.invoices');
    assert.deepEqual(settings.topics, ['orders']);
    assert.equal(settings.startAt, 'earliest');
    assert.equal(settings.sessionTimeoutMs, 10_000);
    assert.equal(settings.maxBufferedEvents, 500);
  });

  void it('keeps what the caller set, callbacks and signal included', () => {
    const onRevoked = (): void => undefined;
    const signal = new AbortController().signal;
    const settings = subscribeSettings({
      ...base,
      startAt: { timestamp: 5 },
      sessionTimeoutMs: 300,
      maxBufferedEvents: 7,
      onRevoked,
      signal,
    });
    assert.deepEqual(settings.startAt, { timestamp: 5 });
    assert.equal(settings.sessionTimeoutMs, 300);
    assert.equal(settings.maxBufferedEvents, 7);
    assert.equal(settings.onRevoked, onRevoked);
    assert.equal(settings.signal, signal);
  });

  void it('sorts the topics and drops repeats', () => {
    assert.deepEqual(subscribeSettings({ ...base, topics: ['payments', 'orders', 'payments'] }).topics, [
      'orders',
      'payments',
    ]);
  });

  void it('refuses a group name that is empty, longer than 255 characters or not a string', () => {
    assert.equal(subscribeSettings({ ...base, group: 'g'.repeat(255) }).group.length, 255);
    for (const group of ['', 'g'.repeat(256), 7 as unknown as string]) {
      assert.throws(
        () => subscribeSettings({ ...base, group }),
        heraldError('INVALID_ARGUMENT', /a consumer group needs a name of 1 to 255 characters/),
      );
    }
  });

  void it('refuses a subscription to no topics, or to topics that are not names', () => {
    for (const topics of [[], undefined, 'orders', [7]] as unknown as string[][]) {
      assert.throws(
        () => subscribeSettings({ ...base, topics }),
        heraldError('INVALID_ARGUMENT', /one or more topic names/),
      );
    }
  });

  void it('refuses a session timeout below the backend minimum, saying the minimum', () => {
    assert.throws(
      () => subscribeSettings({ ...base, sessionTimeoutMs: 0 }),
      heraldError('INVALID_ARGUMENT', /at least 1,/),
    );
    assert.throws(
      () => subscribeSettings({ ...base, sessionTimeoutMs: 99 }, { minSessionTimeoutMs: 100 }),
      heraldError('INVALID_ARGUMENT', /sessionTimeoutMs must be an integer of at least 100, got 99/),
    );
    assert.equal(
      subscribeSettings({ ...base, sessionTimeoutMs: 100 }, { minSessionTimeoutMs: 100 }).sessionTimeoutMs,
      100,
    );
    assert.throws(
      () => subscribeSettings({ ...base, sessionTimeoutMs: 1.5 }),
      heraldError('INVALID_ARGUMENT'),
    );
  });

  void it('refuses maxBufferedEvents that is not a positive integer', () => {
    for (const maxBufferedEvents of [0, -1, 2.5]) {
      assert.throws(
        () => subscribeSettings({ ...base, maxBufferedEvents }),
        heraldError('INVALID_ARGUMENT', /maxBufferedEvents must be a positive integer/),
      );
    }
  });

  void it('refuses a start position that is an offset or names no place', () => {
    for (const startAt of [{ offset: 0 }, 'start', { timestamp: Number.NaN }] as unknown as 'earliest'[]) {
      assert.throws(
        () => subscribeSettings({ ...base, startAt }),
        heraldError('INVALID_ARGUMENT', /invalid position/),
      );
    }
  });

  void it('refuses an already-aborted signal with CLOSED, keeping its reason as the cause', () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    controller.abort(reason);
    assert.throws(
      () => subscribeSettings({ ...base, signal: controller.signal }),
      (error) => isHeraldError(error, 'CLOSED') && error.cause === reason,
    );
  });
});
