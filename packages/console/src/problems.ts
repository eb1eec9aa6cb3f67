// Errors answered as RFC 9457 problem documents carrying Herald's error code.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type HeraldErrorCode, isHeraldError } from '@herald/core';

/** The status a Herald error code is answered with. */
export function statusOf(code: HeraldErrorCode, retryable: boolean): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'VALIDATION_FAILED':
    case 'INVALID_ENVELOPE':
      return 400;
    case 'UNKNOWN_TOPIC':
      return 404;
    case 'CONFLICT':
    case 'TOPIC_EXISTS':
      return 409;
    case 'TOO_LARGE':
      return 413;
    case 'UNSUPPORTED':
      return 501;
    default:
      return retryable ? 503 : 500;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Authentication required',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  500: 'Internal error',
  501: 'Not supported by this backend',
  503: 'Unavailable',
};

/** A problem document: `type` is `/problems/<slug>`, `code` Herald's error code or the console's own. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly instance?: string;
  readonly [member: string]: unknown;
}

/** Throws to answer a problem from a route. */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: string;
  readonly members: Record<string, unknown>;

  constructor(status: number, code: string, detail: string, members: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.members = members;
  }
}

export function problem(
  status: number,
  code: string,
  detail: string,
  members: Record<string, unknown> = {},
): Problem {
  return {
    type: `/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...members,
  };
}

/** Answers `error` as a problem; an error that is neither a HeraldError nor a ProblemError is a 500 that shows nothing of it. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  let body: Problem;
  if (error instanceof ProblemError) {
    body = problem(error.status, error.code, error.message, error.members);
  } else if (isHeraldError(error)) {
    const status = statusOf(error.code, error.retryable);
    body = problem(status, error.code, error.message, detailsOf(error.details));
  } else if (isFastifyClientError(error)) {
    body = problem(error.statusCode, error.code ?? 'BAD_REQUEST', error.message);
  } else {
    request.log.error({ err: error }, 'console request failed');
    body = problem(500, 'INTERNAL', 'the request failed unexpectedly');
  }
  return reply
    .code(body.status)
    .type('application/problem+json')
    .send({ ...body, instance: request.url.split('?')[0] });
}

function detailsOf(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.keys(details).length === 0 ? {} : { details };
}

function isFastifyClientError(
  error: unknown,
): error is { statusCode: number; code?: string; message: string } {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500;
}
