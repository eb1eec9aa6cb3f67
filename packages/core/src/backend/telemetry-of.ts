import type { LogTelemetry } from '../event-log.ts';
import { parseHostPort } from './host-port.ts';

/** The span attributes Herald uses where the messaging conventions define none for a system. */
const HERALD_ATTRIBUTES = { offsetAttribute: 'herald.offset', keyAttribute: 'herald.partition_key' } as const;
/** The Kafka-specific attributes the messaging conventions define. */
const KAFKA_ATTRIBUTES = {
  offsetAttribute: 'messaging.kafka.offset',
  keyAttribute: 'messaging.kafka.message.key',
} as const;

/**
 * A backend's {@link LogTelemetry}: `system` is its `messaging.system`, `servers` the `host:port`
 * list it was given (the first is `server.address`/`server.port`). Kafka gets the attributes
 * the conventions define for it, every other system Herald's own.
 *
 * @example telemetryOf('kafka', options.brokers, 9092)
 */
export function telemetryOf(
  system: string,
  servers: readonly string[] = [],
  defaultPort?: number,
): LogTelemetry {
  const first = servers[0] === undefined ? undefined : parseHostPort(servers[0], defaultPort);
  return Object.freeze({
    system,
    ...(system === 'kafka' ? KAFKA_ATTRIBUTES : HERALD_ATTRIBUTES),
    ...(first === undefined ? {} : { server: Object.freeze({ address: first.host, port: first.port }) }),
  });
}
