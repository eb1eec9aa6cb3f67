// Entry point `@herald/core/memory`: the in-memory log, also loadable by URL (`memory:`).
export { MemoryLog, openMemoryLog, openLogFromUrl } from './memory-log.ts';
