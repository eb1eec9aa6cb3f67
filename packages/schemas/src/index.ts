// Entry point `@herald/schemas`: the schema registry kept in the log, compatibility checks,
// upcasting readers, stored-event checks and AsyncAPI generation.
export { eventTypeOf, parseEventType, parseSchemaUri, schemaUri } from './event-type.ts';
export type { EventTypeParts } from './event-type.ts';
export { JSON_SCHEMA_TARGET, canonicalJson, jsonSchemaOf, schemaFingerprint } from './json-schema.ts';
export type { JsonSchema } from './json-schema.ts';
export { diffSchemas, isCompatibleChange } from './schema-diff.ts';
export type { DifferenceKind, SchemaDifference } from './schema-diff.ts';
export {
  COMPATIBILITY_MODES,
  DEFAULT_COMPATIBILITY,
  checkCompatibility,
  describeIncompatibilities,
  isCompatibilityMode,
  parseCompatibilityMode,
} from './check-compatibility.ts';
export type { CompatibilityMode, Incompatibility, VersionedSchema } from './check-compatibility.ts';
export { SCHEMA_REGISTRY_TOPIC, openSchemaRegistry } from './schema-registry.ts';
export type {
  RegisterOptions,
  RegisteredSchema,
  RegistrationCheck,
  RegistrationResult,
  SchemaRegistry,
  SchemaRegistryOptions,
  SchemaSource,
  SubjectInfo,
} from './schema-registry.ts';
export { registryGuard } from './registry-guard.ts';
export type { RegistryGuardOptions } from './registry-guard.ts';
export { defineUpcaster } from './define-upcaster.ts';
export type { Upcaster } from './define-upcaster.ts';
export { createEventReader } from './event-reader.ts';
export type {
  EventReader,
  EventReaderOptions,
  NewerVersionPolicy,
  ReadPlan,
  ReadStep,
} from './event-reader.ts';
export { defineSystem, definitionsOf, loadSystem, readerFor } from './define-system.ts';
export type {
  ConsumerDescription,
  ProducerDescription,
  ServerDescription,
  SystemDescription,
} from './define-system.ts';
export { checkStoredEvents } from './check-stored-events.ts';
export type {
  CheckStoredEventsOptions,
  ConsumerCheck,
  StoredEventFailure,
  StoredEventsReport,
} from './check-stored-events.ts';
export { ASYNCAPI_VERSION, generateAsyncApi } from './generate-asyncapi.ts';
export type { AsyncApiDocument } from './generate-asyncapi.ts';
