import { Gauge, type Registry } from 'prom-client';
import { type AuditOptions, type AuditReport, auditGroup, auditViolationCount } from './audit-group.ts';
import { HeraldError } from './errors.ts';
import type { EventLog } from './event-log.ts';
import type { Store } from './runtime/store.ts';

/** One group to audit and the store its inbox is in. */
export interface AuditedGroup {
  readonly group: string;
  readonly store: Store;
}

export interface AuditMetricsOptions {
  /** Time between audit rounds. Default 15 minutes: a round reads the groups' topics whole. */
  readonly intervalMs?: number;
  /**
   * What each round checks, by `auditGroup`'s options; `since` may be a function of the round's
   * time, such as `(now) => now - inboxRetentionMs`, to stay inside the inbox's retention.
   */
  readonly audit?: Omit<AuditOptions, 'since'> & { readonly since?: number | ((now: number) => number) };
  /** Starts every metric name instead of `herald_`. */
  readonly prefix?: string;
  /** A failed audit of one group (the gauge keeps its last value; the next round tries again). */
  readonly onError?: (error: unknown, group: string) => void;
  /** Every report, for a log line or an alert of the service's own. */
  readonly onReport?: (report: AuditReport) => void;
  /** The clock `since` is computed from. Default `Date.now`. */
  readonly now?: () => number;
}

/** Periodic guarantee audits, started by {@link startAuditMetrics}. */
export interface AuditMetrics {
  /** One round now: audits every group, sets the gauges, resolves with the reports. */
  audit(): Promise<AuditReport[]>;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `auditGroup` for each group every `intervalMs` and exports the result in `registry`:
 * `herald_audit_violations` {group} (violations the last audit found; 0 is the only good value)
 * and `herald_audit_events_checked` {group}. Opt-in and off the scrape path: an audit reads the
 * groups' topics whole, so it runs on its own timer (which does not keep the process alive),
 * rounds never overlap, and a scrape reads the last round's values. The first round starts at
 * once.
 *
 * @example
 * const audits = startAuditMetrics(log, [{ group: 'billing.invoices', store }], registry, {
 *   audit: { since: (now) => now - 7 * 24 * 3600_000 },
 * });
 * // … at shutdown, before the store closes:
 * await audits.stop();
 */
export function startAuditMetrics(
  log: EventLog,
  groups: readonly AuditedGroup[],
  registry: Registry,
  options: AuditMetricsOptions = {},
): AuditMetrics {
  const intervalMs = options.intervalMs ?? 15 * 60 * 1000;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0)
    throw new HeraldError(
      'INVALID_ARGUMENT',
      `intervalMs must be a positive number of ms, got ${intervalMs}`,
    );
  const prefix = options.prefix ?? 'herald_';
  const now = options.now ?? Date.now;
  const violations = new Gauge({
    name: `${prefix}audit_violations`,
    help: 'Guarantee violations the last audit of the consumer group found (herald audit): 0 when it kept its guarantees.',
    labelNames: ['group'],
    registers: [registry],
  });
  const checked = new Gauge({
    name: `${prefix}audit_events_checked`,
    help: 'Events the last audit of the consumer group checked.',
    labelNames: ['group'],
    registers: [registry],
  });
  const { since, ...auditOptions } = options.audit ?? {};

  const round = async (): Promise<AuditReport[]> => {
    const reports: AuditReport[] = [];
    for (const { group, store } of groups) {
      const from = typeof since === 'function' ? since(now()) : since;
      try {
        const report = await auditGroup(log, store, group, {
          ...auditOptions,
          ...(from === undefined ? {} : { since: from }),
        });
        violations.set({ group }, auditViolationCount(report));
        checked.set({ group }, report.checked);
        options.onReport?.(report);
        reports.push(report);
      } catch (error) {
        if (options.onError === undefined) throw error;
        options.onError(error, group);
      }
    }
    return reports;
  };

  let running: Promise<unknown> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped || running !== undefined) return;
    running = round()
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async audit() {
      while (running !== undefined) await running;
      const current = round();
      running = current
        .catch(() => undefined)
        .finally(() => {
          running = undefined;
        });
      return current;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
