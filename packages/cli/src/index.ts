// Entry point `@herald/cli`: the herald command, callable in-process.
export { HERALD_HELP, main, run } from './main.ts';
export type { CliIo } from './command-context.ts';
export { toCloudEventJson } from './cloud-event-json.ts';
export { isForeign, tailEvents } from './tail-command.ts';
export type { ForeignRecord, TailOptions } from './tail-command.ts';
