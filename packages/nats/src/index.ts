// Entry point `@herald/nats`: the EventLog on NATS JetStream, loadable by URL (`nats://…`).
export { NatsLog, openLogFromUrl, openNatsLog } from './nats-log.ts';
export type { NatsLogOptions, NatsTlsOptions } from './nats-log-options.ts';
export { parseNatsUrl } from './nats-url.ts';
export {
  decodeCloudEvent,
  decodeHeaderValue,
  encodeCloudEvent,
  encodeHeaderValue,
} from './cloud-event-headers.ts';
export type { NatsMessageParts } from './cloud-event-headers.ts';
export { GROUPS_BUCKET, TOPICS_BUCKET } from './nats-names.ts';
