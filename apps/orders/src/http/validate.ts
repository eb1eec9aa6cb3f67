// Request validation shared by the route plugins: a zod schema, and a failure answered as one
// problem that lists every issue as a JSON pointer.
import type { z } from 'zod';
import { ProblemError, problemOf } from '@herald/orders-domain/http/problem.ts';

/**
 * Parses `value` with `schema`; a failure throws a `ProblemError` with `status` and `slug`, its
 * `errors` one `{ pointer, detail }` per issue (at most 50, the summary at most 1000 characters).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  status: 400 | 404 | 422,
  slug: 'invalid-request' | 'invalid-parameter' | 'not-found',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    const base = issue.path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        pointer: `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        detail: 'unknown property',
      }));
    }
    return [{ pointer: base === '' ? '/' : base, detail: issue.message }];
  });
  const summary = errors.map((e) => `${e.pointer}: ${e.detail}`).join('; ');
  throw new ProblemError(problemOf(status, slug, summary.slice(0, 1000), { errors: errors.slice(0, 50) }));
}
