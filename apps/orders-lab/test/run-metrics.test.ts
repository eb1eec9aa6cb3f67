import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeRunMetrics, recoveryTime, windows } from '../src/run-metrics.ts';
import { fakeRun } from './fixtures/fake-run.ts';

describe('windows', () => {
  it('buckets points by time and gives each window its count, errors and percentiles', () => {
    const series = windows(
      [
        { at: 10, value: 5, error: false },
        { at: 900, value: 7, error: false },
        { at: 1_100, value: 100, error: true },
        { at: 2_999, value: undefined, error: true },
      ],
      1_000,
      3_000,
    );
    assert.deepEqual(series, [
      { t: 0, count: 2, p50: 5, p99: 7, max: 7, errors: 0 },
      { t: 1_000, count: 1, p50: 100, p99: 100, max: 100, errors: 1 },
      { t: 2_000, count: 1, p50: null, p99: null, max: null, errors: 1 },
    ]);
  });
});

describe('recoveryTime', () => {
  const window = (t: number, p99: number, errors = 0) => ({ t, count: 10, p50: p99, p99, max: p99, errors });

  it('is the time from the fault end to the first window after which latency stays normal', () => {
    const http = [
      window(0, 10),
      window(1_000, 300),
      window(2_000, 300),
      window(3_000, 80),
      window(4_000, 12),
      window(5_000, 11),
    ];
    assert.equal(
      recoveryTime({ http, windowMs: 1_000, faultEndMs: 3_000, p50BeforeFault: 10, backlogDoneMs: null }),
      1_000,
    );
  });

  it('waits for the backlog of orders accepted before the fault ended', () => {
    const http = [window(0, 10), window(1_000, 10), window(2_000, 10), window(3_000, 10)];
    assert.equal(
      recoveryTime({ http, windowMs: 1_000, faultEndMs: 2_000, p50BeforeFault: 10, backlogDoneMs: 3_400 }),
      1_400,
    );
  });

  it('is 0 when the system never showed the fault after it ended', () => {
    const http = [window(0, 10), window(1_000, 10), window(2_000, 10)];
    assert.equal(
      recoveryTime({ http, windowMs: 1_000, faultEndMs: 1_500, p50BeforeFault: 10, backlogDoneMs: 900 }),
      0,
    );
  });

  it('is null when the last window still has errors or slow answers', () => {
    const erring = [window(0, 10), window(1_000, 10), window(2_000, 10, 1)];
    assert.equal(
      recoveryTime({
        http: erring,
        windowMs: 1_000,
        faultEndMs: 1_000,
        p50BeforeFault: 10,
        backlogDoneMs: null,
      }),
      null,
    );
    const slow = [window(0, 10), window(1_000, 10), window(2_000, 500)];
    assert.equal(
      recoveryTime({
        http: slow,
        windowMs: 1_000,
        faultEndMs: 1_000,
        p50BeforeFault: 10,
        backlogDoneMs: null,
      }),
      null,
    );
  });

  it('ignores a slow tail in a window whose median is back to normal', () => {
    const http = [window(0, 10), window(1_000, 300), { ...window(2_000, 10), p99: 900, max: 900 }];
    assert.equal(
      recoveryTime({ http, windowMs: 1_000, faultEndMs: 2_000, p50BeforeFault: 10, backlogDoneMs: null }),
      0,
    );
  });

  it('allows the median twice its pre-fault value, or 20 ms more, whichever is larger', () => {
    const http = [window(0, 5), window(1_000, 24), window(2_000, 24)];
    assert.equal(
      recoveryTime({ http, windowMs: 1_000, faultEndMs: 1_000, p50BeforeFault: 5, backlogDoneMs: null }),
      0,
    );
  });
});

describe('computeRunMetrics', () => {
  it('reports rates, latency, end-to-end and reconciliation of a clean run', () => {
    const { run, records } = fakeRun({
      architecture: 'event-driven',
      latency: () => 4,
      decidedAfter: () => 30,
    });
    const m = computeRunMetrics(run, records, 1_000);
    assert.equal(m.offeredRate, 100);
    assert.equal(m.acceptedRate, 100);
    assert.equal(m.http.p99, 4);
    assert.equal(m.errorRate, 0);
    assert.equal(m.endToEnd.p50, 30);
    assert.equal(m.settled.p50, 40);
    assert.equal(m.reconciliation.lost, 0);
    assert.equal(m.recoveryMs, null);
    assert.equal(m.maxConsumerLag, 0);
    assert.equal(m.series.http.length, 3);
  });

  it('measures REST end-to-end by its 201, which carries the final state', () => {
    const { run, records } = fakeRun({ architecture: 'rest', latency: () => 50, decidedAfter: () => 45 });
    const m = computeRunMetrics(run, records, 1_000);
    assert.equal(m.endToEnd.p99, 50);
    assert.equal(m.maxConsumerLag, null);
  });

  it('counts errors by kind and keeps timed-out requests in the latency at their length', () => {
    const { run, records } = fakeRun({
      architecture: 'rest',
      rate: 10,
      durationMs: 1_000,
      status: (i) => (i === 3 ? 503 : i === 4 ? 0 : 201),
      latency: (i) => (i === 4 ? 10_000 : 20),
    });
    const m = computeRunMetrics(run, records, 1_000);
    assert.deepEqual(m.errors, { '503': 1, timeout: 1 });
    assert.equal(m.errorRate, 0.2);
    assert.equal(m.http.max, 10_000);
    assert.equal(m.reconciliation.failedOrders, 2);
  });

  it('separates the latency while the fault was in force and times the recovery after it', () => {
    const fault = { startMs: 1_000, endMs: 2_000 };
    const { run, records } = fakeRun({
      architecture: 'event-driven',
      fault,
      latency: () => 5,
      // Orders accepted during the fault are only decided once it is over, 2.5 s into the run.
      decidedAfter: (_i, dueAt) => (dueAt >= 1_000 && dueAt < 2_000 ? 2_500 - dueAt : 20),
      settledAfter: (_i, dueAt) => (dueAt >= 1_000 && dueAt < 2_000 ? 2_600 - dueAt : 30),
    });
    const m = computeRunMetrics(run, records, 250);
    assert.equal(m.httpDuringFault?.count, 100);
    assert.equal(m.endToEnd.max, 1_500);
    assert.equal(m.recoveryMs, 600);
  });

  it('does not call a system recovered while an order accepted before the fault ended is unsettled', () => {
    const { run, records } = fakeRun({
      architecture: 'event-driven',
      fault: { startMs: 1_000, endMs: 2_000 },
      settledAfter: (i) => (i === 150 ? null : 30),
    });
    assert.equal(computeRunMetrics(run, records, 500).recoveryMs, null);
  });
});
