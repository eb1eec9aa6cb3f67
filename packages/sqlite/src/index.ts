export { SqliteLog, openLogFromUrl, openSqliteLog, parseSqliteUrl } from './sqlite-log.ts';
export type { SqliteLogOptions } from './sqlite-log.ts';
export type { IntegrityCheck } from './integrity.ts';
export { EVENTS_TABLE_DDL, SCHEMA_VERSION } from './schema.ts';
export { SqliteStore, openSqliteStore } from './sqlite-store.ts';
export { openStoreFromUrl } from './open-store-from-url.ts';
export { EVENT_ATTRIBUTE_COLUMNS, decodeEventRow, encodeEventRow } from './event-row.ts';
export type { EventRow } from './event-row.ts';
