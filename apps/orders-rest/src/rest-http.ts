// What every REST baseline server shares: problem+json answers, turning injected transient
// faults into 503s, and validating bodies with zod.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, type Problem, ProblemError } from '@herald/orders-domain/http/problem.ts';
import { TransientFault } from '@herald/orders-domain/faults.ts';

/** A problem document (RFC 9457) whose type is `/problems/<slug>`. */
export function restProblem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  errors?: Problem['errors'],
): Problem {
  return { type: `/problems/${slug}`, title, status, detail, ...(errors === undefined ? {} : { errors }) };
}

/** Sends a problem as `application/problem+json`. */
export function replyProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** Thrown by a route to answer with a problem. */
export class RestProblemError extends Error {
  override readonly name = 'RestProblemError';
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail);
    this.problem = problem;
  }
}

/** Validates `value` or throws a problem (400 unless told) naming every invalid field as a JSON pointer. */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown, status = 400): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    pointer: `/${issue.path.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`,
    detail: issue.message,
  }));
  throw new RestProblemError(
    restProblem(
      status,
      'invalid-request',
      'The request is invalid',
      'the request does not match the contract',
      errors,
    ),
  );
}

/**
 * Installs the error handler: RestProblemError → its problem, TransientFault (an injected
 * fault) → 503 so that callers retry, Fastify's own 4xx → a problem with its status, anything
 * else → 500.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof RestProblemError || error instanceof ProblemError)
      return replyProblem(reply, error.problem);
    if (error instanceof TransientFault) {
      return replyProblem(reply, restProblem(503, 'unavailable', 'Service unavailable', error.message));
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return replyProblem(reply, restProblem(status, 'bad-request', 'Bad request', (error as Error).message));
    }
    return replyProblem(
      reply,
      restProblem(500, 'internal-error', 'Internal error', (error as Error).message),
    );
  });
  app.setNotFoundHandler((request, reply) =>
    replyProblem(
      reply,
      restProblem(404, 'not-found', 'Not found', `no route ${request.method} ${request.url}`),
    ),
  );
}
