// The pages problem types point to: every problem the API answers has a `type` URI
// (`<base>/problems/<slug>`) that resolves to a short HTML page saying what the problem means and
// what a client can do about it. docs/problems.md lists the same text, kept equal by a test.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Problem, type ProblemSlug, problemOf } from '@herald/orders-domain/http/problem.ts';
import { problemResponse, textResponse } from './openapi.ts';
import { problemValidatorCompiler } from './validate.ts';

/** What each problem type means, and what to do about it. */
export const PROBLEM_EXPLANATIONS: Readonly<Record<ProblemSlug, string>> = {
  'malformed-json': 'The body could not be parsed as JSON (or was empty). Send a JSON object.',
  'body-too-deep': 'The body nests arrays or objects more than 8 levels deep. Send a flatter document.',
  'forbidden-property':
    'The body uses `__proto__` or `constructor` as a property name, which the API refuses outright.',
  'duplicate-property': 'An object in the body gives the same property twice. Give each property once.',
  'body-too-large': 'The body is larger than 16 KiB. Orders have at most 50 lines; send fewer.',
  'unsupported-media-type': 'The body must be sent as `Content-Type: application/json` in UTF-8.',
  'invalid-request':
    'The body breaks the schema of the operation (see the OpenAPI document, /openapi.json). ' +
    'The `errors` member lists each issue as a JSON pointer into the body.',
  'invalid-order':
    'The order is well-formed but cannot be placed, e.g. it names a SKU the catalog does not have. ' +
    'The `errors` member says which lines.',
  'invalid-idempotency-key':
    'The Idempotency-Key header must be one header of 1-255 letters, digits and `_ . : ~ + / = -`.',
  'idempotency-key-reused':
    'This Idempotency-Key was used before with a different body. Use a new key for a new request.',
  'idempotency-key-in-flight':
    'A request with this Idempotency-Key is still being handled. Retry after Retry-After seconds: ' +
    'you will get its answer.',
  'spoofed-header':
    'The request carries a header the system sets itself (`ce-*`, `x-herald-*`). Leave these out.',
  'invalid-parameter':
    'A path or query parameter is malformed, or a query parameter is unknown. The `errors` member ' +
    'lists each issue.',
  'unknown-position':
    'The consistency token names no position of the orders topic, or the event of an order never placed. ' +
    'Use the consistencyToken a POST /orders answered.',
  'not-found': 'No such resource: the order, SKU, customer or route does not exist.',
  'method-not-allowed':
    'The path exists but not with this method. The `Allow` header lists the methods it takes.',
  unauthorized: 'The admin API needs `Authorization: Bearer <HERALD_ADMIN_TOKEN>`.',
  'too-many-requests':
    'This client sent more requests than the rate limit allows (HERALD_RATE_LIMIT per second, in bursts of ' +
    'twice that). Wait Retry-After seconds; the RateLimit-* headers say where the client stands.',
  'too-many-waiting-reads':
    'This client holds as many waiting reads (wait, consistentWith) and event streams open as it may. ' +
    'Close one, or retry after Retry-After seconds.',
  'view-behind':
    'The order view has not yet processed the consistency token within the wait. Retry after Retry-After ' +
    'seconds; the order is stored.',
  unavailable:
    'The service cannot take the request right now: the log could not store it (nothing was accepted), ' +
    'the service is starting or shutting down, or it holds as many waiting reads as it allows. Retry later.',
  'header-too-large':
    'The request headers are larger than the server accepts. Send fewer or shorter headers.',
  'request-timeout': 'The request (headers and body) did not arrive within the request timeout (15 s).',
  'bad-request': 'The request could not be understood (e.g. a malformed Content-Length).',
  'internal-error':
    'The request failed unexpectedly. Nothing is promised about its effect; an order retried with the same ' +
    'Idempotency-Key is placed at most once.',
};

const SLUGS = Object.keys(PROBLEM_EXPLANATIONS) as ProblemSlug[];

/**
 * `problem` with its `type` made absolute against `base` (`http://host:port`), so that it resolves
 * to the page that explains it wherever the client reads the answer.
 */
export function withAbsoluteType(problem: Problem, base: string): Problem {
  return problem.type.startsWith('/') ? { ...problem, type: `${base}${problem.type}` } : problem;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function pageOf(slug: ProblemSlug): string {
  const { title } = problemOf(400, slug, '');
  const body = escapeHtml(PROBLEM_EXPLANATIONS[slug]).replace(/`([^`]+)`/g, '<code>$1</code>');
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n` +
    `<body><h1>${escapeHtml(title)}</h1>\n<p>${body}</p>\n` +
    `<p>Problem type <code>${slug}</code> of the Herald orders API: every error is an RFC 9457 problem ` +
    `(<code>application/problem+json</code>). <a href="/openapi.json">The OpenAPI document</a> lists which ` +
    `operation answers which.</p></body></html>\n`
  );
}

const PAGES = Object.fromEntries(SLUGS.map((slug) => [slug, pageOf(slug)])) as Record<ProblemSlug, string>;

/** `GET /problems/:type`: the page of one problem type. */
export const problemRoutes: FastifyPluginAsyncZod = async (app) => {
  const schema = {
    operationId: 'explainProblem',
    summary: 'What a problem type means',
    description: 'Every problem `type` the API answers is the absolute URI of this page.',
    tags: ['problems'],
    security: [],
    params: z.strictObject({
      type: z.enum(SLUGS, { error: 'no such problem type' }).describe('The problem type, e.g. `not-found`.'),
    }),
    response: {
      200: textResponse('The explanation, as a page.', 'text/html'),
      404: problemResponse('No such problem type.'),
    },
  };
  app.get(
    '/problems/:type',
    {
      schema,
      // An unknown type is a page that does not exist.
      validatorCompiler: problemValidatorCompiler({ params: { status: 404, slug: 'not-found' } }),
    },
    async (request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'public, max-age=86400')
        .send(PAGES[request.params.type]),
  );
};
