export { SILENT_LOGGER, combineServices, defaultMiddleware, defineService } from './service.ts';
export type {
  DefaultMiddlewareOptions,
  Logger,
  MetricsRegistry,
  PauseSignal,
  ProducedTopic,
  Service,
  ServiceContext,
  ServiceDefinition,
  ServiceSpec,
} from './service.ts';
export { serviceShadow, shadowService } from './shadow.ts';
export type { ServiceShadowOptions, ShadowServiceOptions } from './shadow.ts';
export { RESTART_DELAY_MS, ServiceSupervisor } from './supervisor.ts';
export type { ServiceState } from './supervisor.ts';
export { isPostgresUrl, parsePostgresStoreUrl, schemaOf } from './store-url.ts';
export type { PostgresStoreUrl } from './store-url.ts';
export { checkStoreFitsLog, embeddedServiceStores, openServiceLog, openServiceStores } from './stores.ts';
export type { PostgresStoreSettings, ServiceStores, ServiceStoresOptions } from './stores.ts';
export { startHealthServer } from './health.ts';
export type { HealthServer, HealthServerOptions, Readiness } from './health.ts';
export { healthFromEnv, openLogAndStores, runServices, startServices, stopOnSignals } from './host.ts';
export type {
  AdminMount,
  AdminMountContext,
  GracefulShutdown,
  OpenLogAndStoresOptions,
  RunServicesOptions,
  ServiceHost,
  ServiceResources,
  StartServicesOptions,
} from './host.ts';
