// Entry point `@herald/core/metrics`: Prometheus metrics of handling, publishing and consumer lag. It needs
// the optional peer dependency `prom-client` (the registry it returns is prom-client's); the root
// `@herald/core` never loads it, so an application without metrics does not install it. Without
// the package, importing this entry fails with Node's "Cannot find package 'prom-client'".
export {
  DURATION_BUCKETS,
  metrics,
  publishMetrics,
  registerLagMetrics,
  registerParkingMetrics,
  renderMetrics,
} from './runtime/middleware/metrics.ts';
export type {
  MetricsMiddleware,
  MetricsOptions,
  ParkingGroup,
  PublishMetricsOptions,
} from './runtime/middleware/metrics.ts';
export { startAuditMetrics } from './audit-metrics.ts';
export type { AuditMetrics, AuditMetricsOptions, AuditedGroup } from './audit-metrics.ts';
export { timerMetrics } from './timer-metrics.ts';
export type { MeasuredTimerStore, TimerMetrics } from './timer-metrics.ts';
