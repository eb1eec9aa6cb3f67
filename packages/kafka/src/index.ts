// Entry point `@herald/kafka`: the EventLog on Apache Kafka, loadable by URL (`kafka://…`).
export { KafkaLog, openKafkaLog, openLogFromUrl } from './kafka-log.ts';
export type { KafkaLogOptions, KafkaSaslOptions, KafkaTlsOptions } from './kafka-log-options.ts';
export { parseKafkaUrl } from './kafka-url.ts';
export { decodeCloudEvent, encodeCloudEvent } from './cloud-event-binding.ts';
export type { KafkaRecordInput, KafkaRecordParts } from './cloud-event-binding.ts';
