// Entry point `@herald/core/tracing`: OpenTelemetry spans for publishing and handling, and the
// W3C trace context carried in CloudEvents attributes. It needs the optional peer dependency
// `@opentelemetry/api`; the root `@herald/core` never loads it, so an application that does not
// trace does not install it. Without the package, importing this entry fails with Node's
// "Cannot find package '@opentelemetry/api'".
export {
  extractTraceContext,
  injectTraceContext,
  tracing,
  tracingPublish,
} from './runtime/middleware/tracing.ts';
export type { TracingOptions } from './runtime/middleware/tracing.ts';
