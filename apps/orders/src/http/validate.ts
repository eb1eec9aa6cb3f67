// Request validation: the zod schemas a route declares (`schema.params`, `querystring`, `body`)
// are checked by Fastify before the handler runs, through the compiler below, and a failure is
// answered as one problem that lists every issue as a JSON pointer.
import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { ProblemError, type ProblemSlug, problemOf } from '@herald/orders-domain/http/problem.ts';

/** How a request part that breaks its schema is refused. */
export interface Refusal {
  readonly status: 400 | 404 | 422;
  readonly slug: Extract<ProblemSlug, 'invalid-request' | 'invalid-parameter' | 'not-found'>;
}

/** Request parts Fastify validates. */
type HttpPart = 'body' | 'params' | 'querystring' | 'headers';

/** A body that breaks its schema is 422; a path or query parameter, 400. */
const REFUSALS: Readonly<Record<HttpPart, Refusal>> = {
  body: { status: 422, slug: 'invalid-request' },
  params: { status: 400, slug: 'invalid-parameter' },
  querystring: { status: 400, slug: 'invalid-parameter' },
  headers: { status: 400, slug: 'invalid-parameter' },
};

/**
 * The validator compiler of the API (`app.setValidatorCompiler`, or a route's own
 * `validatorCompiler` to answer otherwise, e.g. an unknown admin service as 404). What a schema
 * outputs is what the handler reads (`?wait=1.5` arrives as the number 1.5).
 *
 * @example app.setValidatorCompiler(problemValidatorCompiler());
 */
export function problemValidatorCompiler<T = z.ZodType>(
  refusals: Partial<Record<HttpPart, Refusal>> = {},
): FastifySchemaCompiler<T> {
  return ({ schema: routeSchema, httpPart }) => {
    // Fastify hands the compiler one request part's schema at a time: a zod schema here.
    const schema = routeSchema as unknown as z.ZodType;
    const part = (httpPart ?? 'body') as HttpPart;
    const { status, slug } = refusals[part] ?? REFUSALS[part];
    return (data: unknown) => {
      try {
        return { value: validate(schema, data, status, slug) };
      } catch (error) {
        return { error: error as ProblemError };
      }
    };
  };
}

/**
 * Parses `value` with `schema`; a failure throws a `ProblemError` with `status` and `slug`, its
 * `errors` one `{ pointer, detail }` per issue (at most 50, the summary at most 1000 characters).
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  status: Refusal['status'],
  slug: Refusal['slug'],
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
