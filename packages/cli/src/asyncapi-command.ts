import { writeFile } from 'node:fs/promises';
import { HeraldError } from '@herald/core';
import { generateAsyncApi, loadSystem } from '@herald/schemas';
import { EXIT_OK, UsageError, expectPositionals, parseCommandLine, printable } from './arguments.ts';
import type { CommandContext } from './command-context.ts';

/** Help of `herald asyncapi`. */
export const ASYNCAPI_HELP = `Usage:
  herald asyncapi --system <module> [--output <file>]

Prints the AsyncAPI 3.0 document (JSON) of the system the module describes: one channel per topic,
one message per event type (its JSON Schema as payload, the CloudEvents attributes as headers,
its registry URI as x-herald-dataschema), a send operation per producer and topic and a receive
operation per consumer group and topic. The output is deterministic, so a committed document
only changes when the system does. The log is not opened.

The system module exports its description as default or as \`system\` (see 'herald schema --help').

Options:
  --system <module>   The module describing the system (path relative to the working directory).
  --output <file>     Write the document to <file> instead of standard output.
  -h, --help          Show this help.
`;

const COMMAND = 'herald asyncapi';

/** `herald asyncapi --system <module>`: the AsyncAPI document of a system. */
export async function runAsyncApiCommand(args: readonly string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandLine(COMMAND, args, {
    system: { type: 'string' },
    output: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    await context.out(ASYNCAPI_HELP);
    return EXIT_OK;
  }
  expectPositionals(COMMAND, positionals, []);
  if (values.system === undefined) throw new UsageError(COMMAND, 'missing --system <module>');
  const document = generateAsyncApi(await loadSystem(values.system));
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (values.output === undefined) {
    await context.io.stdout(text);
    return EXIT_OK;
  }
  try {
    await writeFile(values.output, text);
  } catch (cause) {
    throw new HeraldError('INVALID_ARGUMENT', `cannot write ${printable(values.output)}`, { cause });
  }
  await context.out(`wrote ${printable(values.output)}`);
  return EXIT_OK;
}
