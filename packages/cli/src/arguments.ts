import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';

/**
 * A command line herald cannot understand. `run` reports it on one line, names the help to read,
 * and exits with status 2 before anything touches the log.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose `--help` explains the mistake, e.g. `herald tail`. */
  readonly command: string;

  constructor(command: string, message: string) {
    super(message);
    this.command = command;
  }
}

/** Exit status: the command did what was asked. */
export const EXIT_OK = 0;
/** Exit status: the operation failed (unknown topic, log cannot be opened, backend error). */
export const EXIT_FAILURE = 1;
/** Exit status: the command line was wrong; nothing was done. */
export const EXIT_USAGE = 2;

/**
 * `node:util` parseArgs in strict mode with positionals allowed, turning its errors into
 * `UsageError`s worded for people.
 */
export function parseCommandLine<const Options extends ParseArgsOptionsConfig>(
  command: string,
  args: readonly string[],
  options: Options,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(command, describeParseError(error));
  }
}

function describeParseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined) return `unknown option ${option}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option !== undefined) {
    if (message.includes('argument missing')) return `option ${option} needs a value`;
    if (message.includes('does not take an argument')) return `option ${option} does not take a value`;
    if (message.includes('ambiguous')) {
      return `option ${option} needs a value (write ${option}=<value> for a value starting with "-")`;
    }
  }
  return message.split('\n')[0] ?? message;
}

/**
 * Checks the number of positional arguments and returns them. `names` lists the expected ones,
 * for the message (`<topic>`); optional ones end with `?`.
 */
export function expectPositionals(
  command: string,
  positionals: readonly string[],
  names: readonly string[],
): string[] {
  const required = names.filter((name) => !name.endsWith('?'));
  if (positionals.length < required.length) {
    throw new UsageError(command, `missing ${required[positionals.length] ?? 'argument'}`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(command, `unexpected argument "${printable(positionals[names.length] ?? '')}"`);
  }
  return [...positionals];
}

/** Parses a decimal integer ≥ `min` given to `option`; anything else is a `UsageError`. */
export function parseInteger(command: string, option: string, value: string, min: number): number {
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min) {
    const expected =
      min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
    throw new UsageError(command, `${option} must be ${expected}, got "${printable(value)}"`);
  }
  return parsed;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d+(ms|s|m|h|d))+$/;
const DURATION_PART = /(\d+)(ms|s|m|h|d)/g;
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** Parses a duration such as `500ms`, `10m`, `2h`, `1d` or `1h30m` into milliseconds; undefined if it is not one. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(DURATION_PART)) {
    total += Number(amount) * (DURATION_UNITS_MS[unit ?? ''] ?? Number.NaN);
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/**
 * Turns a `--since` value into a timestamp (ms since the epoch): an ISO 8601 date or date-time
 * (`2025-01-31`, `2025-01-31T12:00:00Z`; without a zone it is local time, as `Date.parse` reads
 * it), or a duration before `now` (`10m`, `2h`, `1h30m`).
 */
export function parseSince(command: string, value: string, now: number): number {
  return parseTimestamp(command, '--since', value, now);
}

/** Like {@link parseSince}, for any option taking a time: `option` names it in the message. */
export function parseTimestamp(command: string, option: string, value: string, now: number): number {
  const duration = parseDuration(value);
  if (duration !== undefined) return now - duration;
  const timestamp = ISO_TIMESTAMP.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(timestamp)) {
    throw new UsageError(
      command,
      `${option} must be an ISO timestamp (2025-01-31T12:00:00Z) or a duration (30s, 10m, 2h, 1d), got "${printable(value)}"`,
    );
  }
  return timestamp;
}

const POSITION = /^(\d+):(\d+)$/;
const TOPIC_POSITION = /^(.+):(\d+):(\d+)$/;

/** Parses `<partition>:<offset>` (e.g. `0:42`), a position within one topic. */
export function parsePosition(command: string, value: string): { partition: number; offset: number } {
  const match = POSITION.exec(value);
  const partition = Number(match?.[1]);
  const offset = Number(match?.[2]);
  if (match === null || !Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) {
    throw new UsageError(command, `expected <partition>:<offset> such as 0:42, got "${printable(value)}"`);
  }
  return { partition, offset };
}

/** Parses `<topic>:<partition>:<offset>` (e.g. `orders:0:42`) given to `option`. */
export function parseTopicPosition(
  command: string,
  option: string,
  value: string,
): { topic: string; partition: number; offset: number } {
  const match = TOPIC_POSITION.exec(value);
  const partition = Number(match?.[2]);
  const offset = Number(match?.[3]);
  if (match === null || !Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) {
    throw new UsageError(
      command,
      `${option} takes <topic>:<partition>:<offset> such as orders:0:42, got "${printable(value)}"`,
    );
  }
  return { topic: match[1]!, partition, offset };
}

/**
 * Escapes control characters so text read from the log (event types, keys, payloads written by
 * anyone) cannot move the cursor or recolour the terminal of whoever runs herald.
 */
export function printable(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const control = code < 0x20 || (code >= 0x7f && code < 0xa0) || code === 0x2028 || code === 0x2029;
    out += !control
      ? char
      : code < 0x100
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : `\\u${code.toString(16)}`;
  }
  return out;
}

/**
 * Goes on with a destructive change only when it is confirmed: by `--yes`, or by the person at
 * the terminal. Without either, refuses with a UsageError that says how to confirm (a script
 * must say `--yes`; nothing is changed by accident). Resolves false when the person said no.
 */
export async function confirmed(
  command: string,
  io: { readonly confirm?: (question: string) => Promise<boolean> },
  what: string,
  yes: boolean,
): Promise<boolean> {
  if (yes) return true;
  if (io.confirm === undefined) {
    throw new UsageError(
      command,
      `${what} needs confirming: add --yes (nobody is at a terminal to ask; --dry-run shows what it would do)`,
    );
  }
  return io.confirm(`${what}? [y/N] `);
}
