import type { Logger } from '@herald/service';

/** Service output on the console, each line prefixed with the time. */
export const consoleLogger: Logger = {
  info: (message) => console.log(`${new Date().toISOString()} ${message}`),
  error: (message, error) => console.error(`${new Date().toISOString()} ${message}`, error ?? ''),
};

/**
 * Runs a start-up step; when it fails (bad configuration, a log that cannot be opened) prints
 * one line saying why and exits with status 1, instead of a stack trace.
 */
export async function orExit<T>(step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    console.error(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
