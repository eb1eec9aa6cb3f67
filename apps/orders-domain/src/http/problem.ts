// RFC 9457 problem details: every error the API answers is one, as application/problem+json.
import type { FastifyReply } from 'fastify';

/** The media type of every error the API answers. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** The Content-Type of every error the API answers. */
export const PROBLEM_CONTENT_TYPE = `${PROBLEM_MEDIA_TYPE}; charset=utf-8`;

/**
 * The problem types the API uses; `problemOf` sets `type` to `/problems/<slug>`, relative to the
 * API's base, and the orders API makes it absolute before answering (a page explains each).
 */
export type ProblemSlug =
  | 'malformed-json'
  | 'body-too-deep'
  | 'forbidden-property'
  | 'duplicate-property'
  | 'body-too-large'
  | 'unsupported-media-type'
  | 'invalid-request'
  | 'invalid-order'
  | 'invalid-idempotency-key'
  | 'idempotency-key-reused'
  | 'idempotency-key-in-flight'
  | 'spoofed-header'
  | 'invalid-parameter'
  | 'unknown-position'
  | 'not-found'
  | 'method-not-allowed'
  | 'unauthorized'
  | 'too-many-requests'
  | 'too-many-waiting-reads'
  | 'view-behind'
  | 'unavailable'
  | 'header-too-large'
  | 'request-timeout'
  | 'bad-request'
  | 'internal-error';

/** An RFC 9457 problem document; it may carry extension members beside these. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  /** What was wrong where: JSON pointers into the request. */
  readonly errors?: readonly { readonly pointer: string; readonly detail: string }[];
}

const TITLES: Readonly<Record<ProblemSlug, string>> = {
  'malformed-json': 'The body is not valid JSON',
  'body-too-deep': 'The body is nested too deeply',
  'forbidden-property': 'The body uses a forbidden property name',
  'duplicate-property': 'The body gives a property twice in one object',
  'body-too-large': 'The body is too large',
  'unsupported-media-type': 'Unsupported media type',
  'invalid-request': 'The request is invalid',
  'invalid-order': 'The order cannot be placed',
  'invalid-idempotency-key': 'The Idempotency-Key header is invalid',
  'idempotency-key-reused': 'The Idempotency-Key was used with another request',
  'idempotency-key-in-flight': 'A request with this Idempotency-Key is in progress',
  'spoofed-header': 'The request carries a header reserved for internal use',
  'invalid-parameter': 'A parameter is invalid',
  'unknown-position': 'The consistency token names no position in the log',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  unauthorized: 'Authentication required',
  'too-many-requests': 'Too many requests',
  'too-many-waiting-reads': 'Too many waiting reads and streams open for this client',
  'view-behind': 'The view has not reached the requested position yet',
  unavailable: 'The service cannot take the request right now',
  'header-too-large': 'Request headers too large',
  'request-timeout': 'The request arrived too slowly',
  'bad-request': 'Bad request',
  'internal-error': 'Internal error',
};

/** Builds a problem document. */
export function problemOf(
  status: number,
  slug: ProblemSlug,
  detail: string,
  extras: { instance?: string; errors?: Problem['errors'] } = {},
): Problem {
  return {
    type: `/problems/${slug}`,
    title: TITLES[slug],
    status,
    detail,
    ...(extras.instance === undefined ? {} : { instance: extras.instance }),
    ...(extras.errors === undefined ? {} : { errors: extras.errors }),
  };
}

/** Sends a problem. */
export function sendProblem(
  reply: FastifyReply,
  problem: Problem,
  headers: Record<string, string> = {},
): FastifyReply {
  return reply.code(problem.status).headers(headers).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** Thrown inside request handling to answer with a problem (the error handler sends it). */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly problem: Problem;
  readonly headers: Record<string, string>;

  constructor(problem: Problem, headers: Record<string, string> = {}) {
    super(problem.detail);
    this.problem = problem;
    this.headers = headers;
  }
}
