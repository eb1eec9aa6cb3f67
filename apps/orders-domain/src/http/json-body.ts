// The JSON body parser of the API. Before JSON.parse sees a body it checks the nesting depth
// (a depth bomb is refused without recursing into it); after, it refuses prototype-pollution
// keys anywhere in the document. Fastify's body limit has already capped the size.
import { ProblemError, problemOf } from './problem.ts';

/**
 * Parses `text` as a JSON document nested at most `maxDepth` deep, without `__proto__`, or a
 * `constructor` object holding `prototype`. Throws a ProblemError (400) otherwise.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') throw new ProblemError(problemOf(400, 'malformed-json', 'the body is empty'));
  const depth = nestingDepth(text);
  if (depth > maxDepth) {
    throw new ProblemError(
      problemOf(
        400,
        'body-too-deep',
        `the body is nested ${depth} levels deep; at most ${maxDepth} are allowed`,
      ),
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(
      problemOf(400, 'malformed-json', `the body is not valid JSON: ${(error as Error).message}`),
    );
  }
  const duplicate = duplicateKey(text);
  if (duplicate !== undefined) {
    // JSON.parse keeps the last of two equal keys; another reader may keep the first. A body
    // that means two things to two parsers (`"customerId":"alice","customerId":"mallory"`) is
    // refused rather than guessed at.
    throw new ProblemError(
      problemOf(
        400,
        'duplicate-property',
        `the property "${duplicate.slice(0, 100)}" appears twice in one object`,
      ),
    );
  }
  const forbidden = forbiddenKey(value);
  if (forbidden !== undefined) {
    throw new ProblemError(
      problemOf(
        400,
        'forbidden-property',
        `the property name "${forbidden}" is not allowed anywhere in a body`,
      ),
    );
  }
  return value;
}

/** Deepest nesting of `[` and `{` outside strings, found without parsing. */
export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * The first property name that appears twice in one object of `text`, found without parsing;
 * `text` must be valid JSON. Escaped names compare by what they mean (`"a"` equals `"\u0061"`).
 */
export function duplicateKey(text: string): string | undefined {
  // One frame per open object or array: the keys an object has had so far.
  const frames: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      const keys = frames.at(-1);
      if (expectKey && keys !== undefined) {
        const raw = text.slice(start + 1, i);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(start, i + 1)) as string) : raw;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b) {
      frames.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      frames.push(undefined);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      frames.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = frames.at(-1) !== undefined;
    }
  }
  return undefined;
}

function forbiddenKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = forbiddenKey(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return key;
    const child = (value as Record<string, unknown>)[key];
    if (key === 'constructor' && child !== null && typeof child === 'object' && 'prototype' in child) {
      return 'constructor.prototype';
    }
    const found = forbiddenKey(child);
    if (found !== undefined) return found;
  }
  return undefined;
}
