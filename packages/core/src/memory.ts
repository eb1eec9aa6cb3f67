// Entry point `@herald/core/memory`: the in-memory log, also loadable by URL (`memory:`).
export { MemoryLog, createMemoryBroker, openMemoryLog, openLogFromUrl } from './memory-log.ts';
export type { MemoryBroker, MemoryLogOptions } from './memory-log.ts';
