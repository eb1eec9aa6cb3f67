export { PostgresStore, openPostgresStore } from './postgres-store.ts';
export type { PostgresIsolation, PostgresStoreOptions } from './postgres-store.ts';
export { startOutboxRelay } from './outbox-relay.ts';
export type { OutboxRelay, OutboxRelayOptions } from './outbox-relay.ts';
export { DEFAULT_SCHEMA } from './schema.ts';
export { openStoreFromUrl, parsePostgresStoreUrl } from './open-store-from-url.ts';
export type { PostgresStoreUrl } from './open-store-from-url.ts';
