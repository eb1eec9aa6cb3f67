// Entry point `@herald/core/tracing`: OpenTelemetry spans for publishing and handling, and the
// trace context carried in CloudEvents attributes (W3C `traceparent`/`tracestate`, plus what the
// registered propagator adds, `baggage` by default). It needs the optional peer dependencies
// `@opentelemetry/api` and `@opentelemetry/core` (its W3C propagator); the root `@herald/core`
// never loads them, so an application that does not trace does not install them. Without them,
// importing this entry fails with Node's "Cannot find package '@opentelemetry/api'".
export {
  extractTraceContext,
  injectTraceContext,
  tracing,
  tracingPublish,
} from './runtime/middleware/tracing.ts';
export type { TracingOptions } from './runtime/middleware/tracing.ts';
