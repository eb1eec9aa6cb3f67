import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from './runtime/store.ts';
import { type FiredTimers, pendingTimers } from './runtime/timers.ts';

/** A store whose timers are measured, by the name its metrics carry. */
export interface MeasuredTimerStore {
  readonly name: string;
  readonly store: Store;
}

/** What {@link timerMetrics} returns: the callback `startTimers` reports its rounds to. */
export interface TimerMetrics {
  /** Pass as `startTimers`' `onFired`. */
  readonly onFired: (round: FiredTimers, store: Store) => void;
}

/**
 * Timer metrics in `registry`, labelled `store`:
 * - `herald_timers_fired_total`: timers whose events were emitted;
 * - `herald_timers_failed_total`: timers moved to `herald.timers-failed` (their event could
 *   never be emitted: a topic missing);
 * - `herald_timers_overdue_seconds`: how long ago the earliest pending timer was due, 0 when
 *   none is due — read from the store at each scrape (one read of one timer), so it grows when
 *   no scheduler fires the store's timers (none running, or failing). A healthy scheduler keeps
 *   it under its poll interval.
 *
 * @example
 * const measured = timerMetrics(registry, [{ name: 'orders', store }]);
 * const timers = startTimers([store], { onFired: measured.onFired });
 */
export function timerMetrics(
  registry: Registry,
  stores: readonly MeasuredTimerStore[],
  options: { readonly prefix?: string; readonly now?: () => number } = {},
): TimerMetrics {
  const prefix = options.prefix ?? 'herald_';
  const now = options.now ?? Date.now;
  const names = new Map<Store, string>();
  for (const { name, store } of stores) if (!names.has(store)) names.set(store, name);
  const fired = new Counter({
    name: `${prefix}timers_fired_total`,
    help: 'Durable timers whose events were emitted (tx.schedule).',
    labelNames: ['store'],
    registers: [registry],
  });
  const failed = new Counter({
    name: `${prefix}timers_failed_total`,
    help: 'Durable timers moved aside to herald.timers-failed because their event could never be emitted.',
    labelNames: ['store'],
    registers: [registry],
  });
  new Gauge({
    name: `${prefix}timers_overdue_seconds`,
    help: 'How long ago the earliest pending durable timer of the store was due; 0 when none is due. Grows when no scheduler fires the store.',
    labelNames: ['store'],
    registers: [registry],
    async collect() {
      for (const [store, name] of names) {
        try {
          const [earliest] = await pendingTimers(store, 1);
          this.set({ store: name }, earliest === undefined ? 0 : Math.max(0, now() - earliest.dueAt) / 1000);
        } catch {
          // The store is away: the last value stays; the scheduler's errors say why.
        }
      }
    },
  });
  for (const name of names.values()) {
    fired.inc({ store: name }, 0);
    failed.inc({ store: name }, 0);
  }
  return {
    onFired(round, store) {
      const name = names.get(store);
      if (name === undefined) return;
      if (round.fired > 0) fired.inc({ store: name }, round.fired);
      if (round.failed > 0) failed.inc({ store: name }, round.failed);
    },
  };
}
