import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { millisOf } from '../src/nats-log.ts';

describe('nats: server times', () => {
  it('reads RFC 3339 times with nanosecond digits as milliseconds, truncated so they never round up', () => {
    assert.equal(millisOf('2026-11-26T11:28:22.234707047Z'), Date.UTC(2026, 10, 26, 11, 28, 22, 234));
    assert.equal(millisOf('2026-11-26T11:28:22.999999999Z'), Date.UTC(2026, 10, 26, 11, 28, 22, 999));
    assert.equal(millisOf('2026-11-26T11:28:22.5Z'), Date.UTC(2026, 10, 26, 11, 28, 22, 500));
    assert.equal(millisOf('2026-11-26T11:28:22Z'), Date.UTC(2026, 10, 26, 11, 28, 22));
    assert.equal(millisOf('2026-11-26T12:28:22.123456+01:00'), Date.UTC(2026, 10, 26, 11, 28, 22, 123));
  });
});
