// What the order system's processes write while they run: JSON lines from pino (Fastify's own
// logger), one object per line with `level`, `time` (ISO 8601), `msg`, and, for every line
// written while a span is active, its `trace_id`, `span_id` and `trace_flags`, so a log line
// leads to its trace. The API adds one access-log line per request answered. Secrets are never
// written: authorization headers, cookies, tokens and passwords are redacted wherever a logged
// object carries them, and nothing logs a header or a URL's credentials in the first place.
import { isSpanContextValid, trace } from '@opentelemetry/api';
import type { Logger as ServiceLogger } from '@herald/service';
import { type DestinationStream, type Logger, pino, stdSerializers, stdTimeFunctions } from 'pino';

/** Paths pino replaces with `[redacted]` in anything logged. */
const REDACTED = [
  'authorization',
  'cookie',
  'token',
  'adminToken',
  'password',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.adminToken',
  '*.password',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
];

/** Levels `HERALD_LOG_LEVEL` may name. */
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The process's logger: JSON lines on stdout (or `destination`), at `HERALD_LOG_LEVEL` (default
 * `info`). `service` names the process in every line.
 *
 * @example const logger = createLogger('herald-orders'); logger.info({ orderId }, 'accepted');
 */
export function createLogger(
  service: string,
  options: { readonly level?: string; readonly destination?: DestinationStream } = {},
): Logger {
  const level = options.level ?? process.env['HERALD_LOG_LEVEL'] ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new Error(`HERALD_LOG_LEVEL must be one of ${LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  }
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      redact: { paths: REDACTED, censor: '[redacted]' },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      // The active span's ids on every line written inside one.
      mixin: () => {
        const span = trace.getActiveSpan()?.spanContext();
        if (span === undefined || !isSpanContextValid(span)) return {};
        return {
          trace_id: span.traceId,
          span_id: span.spanId,
          trace_flags: `0${(span.traceFlags & 0xff).toString(16)}`.slice(-2),
        };
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** `logger` as the service kit's Logger: `info(message)`, `error(message, error)`. */
export function serviceLogger(logger: Logger): ServiceLogger {
  return {
    info: (message) => logger.info(message),
    error: (message, error) =>
      error === undefined ? logger.error(message) : logger.error({ err: error }, message),
  };
}

/**
 * Runs a start-up step; when it fails (bad configuration, a log that cannot be opened) prints
 * one line saying why and exits with status 1, instead of a stack trace.
 */
export async function orExit<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    console.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
