// Entry point `@herald/console`: the admin API of Herald's operations console, as a Fastify
// plugin or a server of its own, with its users, sessions and roles.
export { CONTENT_SECURITY_POLICY, consolePlugin } from './console-plugin.ts';
export type { ConsoleOptions } from './console-plugin.ts';
export { startConsole } from './start-console.ts';
export type { ConsoleListen, ConsoleServer, StartConsoleOptions } from './start-console.ts';
export {
  MIN_PASSWORD_LENGTH,
  ROLES,
  UserDirectory,
  hasRole,
  hashPassword,
  parseUsersFile,
  usersFromEnv,
  verifyPassword,
} from './users.ts';
export type { ConsoleUser, Role, UsersFile } from './users.ts';
export { CSRF_HEADER } from './auth.ts';
export { DEAD_LETTER_SUFFIX, DISCARD_COLLECTION, storeDiscards } from './dead-letters.ts';
export type { DeadLetterView, DiscardOutcome, DiscardRequest, Discards } from './dead-letters.ts';
export type { EventView } from './event-view.ts';
export { groupLag } from './group-lag.ts';
export type { GroupLag, PartitionLag } from './group-lag.ts';
export type { LoginThrottleOptions } from './login-throttle.ts';
export { consoleHandler, serviceConsole } from './service-console.ts';
export type { ConsoleHandler, ServiceConsoleContext, ServiceConsoleOptions } from './service-console.ts';
